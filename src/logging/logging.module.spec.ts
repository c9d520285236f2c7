import { pino, type Logger } from 'pino';
import {
  deferRequestBindings,
  REDACT_PATHS,
  redactUrl,
  scrubLine,
  serializeResponse,
} from './logging.module';

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

describe('what a log line may show of a sign-in', () => {
  const TX = 'vdrOlMlIxP96RhK-Px2I3Q';
  const EXT = 'ext_auth_01JABCDEFGHJKMNPQRSTVWXYZ';
  const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJl';

  it('masks every query value of a URL (names stay), and any fragment', () => {
    expect(redactUrl(`/auth/login?external_auth_id=${EXT}`)).toBe('/auth/login?external_auth_id=[Redacted]');
    expect(redactUrl(`/auth/login/resume?tx=${TX}`)).toBe('/auth/login/resume?tx=[Redacted]');
    expect(redactUrl('/demo/callback?code=abc&state=xyz&iss=https%3A%2F%2Fa')).toBe(
      '/demo/callback?code=[Redacted]&state=[Redacted]&iss=[Redacted]',
    );
    expect(
      redactUrl(`https://app.example/login?return_to=${encodeURIComponent(`https://b/r?tx=${TX}`)}`),
    ).toBe('https://app.example/login?return_to=[Redacted]');
    expect(redactUrl(`https://c.example/cb#access_token=${JWT}`)).toBe('https://c.example/cb#[Redacted]');
    expect(redactUrl('/mcp')).toBe('/mcp');
    expect(redactUrl('/x?flag&empty=')).toBe('/x?flag&empty=');
  });

  it('shows of a response only its status and where a redirect goes, values masked', () => {
    expect(
      serializeResponse({
        statusCode: 303,
        headers: {
          location: `https://auth.example/oauth2/consent?ticket=t1ck3t&external_auth_id=${EXT}`,
          'set-cookie': [`cbridge_tx_${TX}=s%3Asecret`],
          'x-anything': 'else',
        },
      }),
    ).toEqual({
      statusCode: 303,
      location: 'https://auth.example/oauth2/consent?ticket=[Redacted]&external_auth_id=[Redacted]',
    });
    expect(serializeResponse({ statusCode: 200, headers: { 'content-type': 'text/html' } })).toEqual({
      statusCode: 200,
    });
  });

  it('scrubs URLs, bearer tokens, JWTs and bridge cookies out of free text, and keeps the line JSON', () => {
    const line = JSON.stringify({
      msg: `fetch https://legacy.example/api?session=abc failed; Authorization: Bearer ${JWT}; token ${JWT}`,
      err: { message: `Cookie: cbridge_tx_${TX}=s%3Asecret; cbridge_session=s%3Aother; theme=dark` },
    });
    const out = scrubLine(line);
    for (const secret of [TX, 'secret', 'other', JWT, 'session=abc']) expect(out).not.toContain(secret);
    expect(out).toContain('theme=dark');
    expect(out).toContain('Bearer [Redacted]');
    expect(JSON.parse(out)).toMatchObject({
      msg: expect.stringContaining('https://legacy.example/api?session=[Redacted]'),
    });
  });

  it('writes a request line with a redirect through the real logger without the Location query', () => {
    const lines: string[] = [];
    const logger = pino(
      {
        redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
        hooks: { streamWrite: scrubLine },
        serializers: { res: serializeResponse },
      },
      { write: (l: string) => lines.push(l) },
    );
    logger.info(
      {
        res: {
          statusCode: 302,
          headers: { location: `https://legacy.example/login?return_to=x%3Ftx%3D${TX}` },
        },
      },
      `redirected to /auth/login/resume?tx=${TX}`,
    );
    expect(lines.join('')).not.toContain(TX);
    expect(JSON.parse(lines[0])).toMatchObject({
      res: { statusCode: 302, location: 'https://legacy.example/login?return_to=[Redacted]' },
      msg: 'redirected to /auth/login/resume?tx=[Redacted]',
    });
  });
});

function withoutStack(line: string): unknown {
  const parsed = JSON.parse(line) as { err?: { stack?: string } };
  if (parsed.err) delete parsed.err.stack;
  return parsed;
}
