import { pino, type Logger } from 'pino';
import { deferRequestBindings, REDACT_PATHS } from './logging.module';

/** Two loggers writing to memory: one with deferred request bindings, one plain. */
function loggers(level: string) {
  const lines = { deferred: [] as string[], plain: [] as string[] };
  let serialized = 0;
  const options = {
    level,
    timestamp: false,
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    serializers: {
      req: (req: { id: string; url: string }) => {
        serialized++;
        return { id: req.id, url: req.url };
      },
    },
  };
  const deferred = pino(options, { write: (l: string) => lines.deferred.push(l) });
  deferRequestBindings(deferred);
  const plain = pino(options, { write: (l: string) => lines.plain.push(l) });
  return { deferred, plain, lines, serialized: () => serialized };
}

const req = { id: 'r-1', url: '/mcp', headers: { authorization: 'Bearer secret' } };

describe('deferRequestBindings', () => {
  it('builds no request bindings for a request that logs nothing at an enabled level', () => {
    const { deferred, lines, serialized } = loggers('warn');
    const child = deferred.child({ req });
    child.info({ token: 'abc' }, 'not written');
    child.debug('not written');
    expect(child.isLevelEnabled('info')).toBe(false);
    expect(child.isLevelEnabled('warn')).toBe(true);
    expect(serialized()).toBe(0);
    expect(lines.deferred).toEqual([]);
  });

  it('writes exactly what a plain child writes, redaction included, once it logs', () => {
    const { deferred, plain, lines } = loggers('info');
    for (const logger of [deferred, plain] as Logger[]) {
      const child = logger.child({ req });
      child.info({ token: 'abc', user: { password: 'p' } }, 'first');
      child.warn('second');
      child.child({ tool: 'whoami' }).error({ err: new Error('boom') }, 'third');
      child.setBindings({ extra: 1 });
      child.info('fourth');
    }
    expect(lines.deferred).toHaveLength(4);
    expect(lines.deferred.map(withoutStack)).toEqual(lines.plain.map(withoutStack));
    expect(lines.deferred.join('')).not.toContain('abc');
    expect(lines.deferred.join('')).toContain('"req":{"id":"r-1","url":"/mcp"}');
  });

  it('leaves children without request bindings, or with options, as pino builds them', () => {
    const { deferred, lines, serialized } = loggers('info');
    deferred.child({ module: 'x' }).info('plain');
    deferred.child({ req }, { level: 'error' }).warn('dropped by the child level');
    expect(serialized()).toBe(1);
    expect(lines.deferred).toHaveLength(1);
  });
});

function withoutStack(line: string): unknown {
  const parsed = JSON.parse(line) as { err?: { stack?: string } };
  if (parsed.err) delete parsed.err.stack;
  return parsed;
}
