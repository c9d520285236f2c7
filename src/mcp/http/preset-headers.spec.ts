import { createServer, get, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeaderPreset, presetHeaders, setHeaderUnlessPreset } from './preset-headers';

const PRESET = new HeaderPreset([
  'X-Frame-Options',
  'DENY',
  'X-Content-Type-Options',
  'nosniff',
  'Vary',
  'Origin',
]);

/** The raw header lines of one answer by `answer`, on a real HTTP server. */
async function answered(answer: (res: ServerResponse) => void): Promise<Array<[string, string]>> {
  const server: Server = createServer((_req, res) => answer(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const raw = await new Promise<string[]>((resolve, reject) => {
      get({ port, host: '127.0.0.1', path: '/', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.rawHeaders));
      }).on('error', reject);
    });
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i].toLowerCase(), raw[i + 1]]);
    return pairs.filter(
      ([name]) => !['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding'].includes(name),
    );
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

const sorted = (pairs: Array<[string, string]>) => [...pairs].sort(([a], [b]) => a.localeCompare(b));

describe('presetHeaders', () => {
  it('writes the preset, the request id and the answer’s own headers as one list (no setHeader)', async () => {
    let setHeaderCalls = -1;
    const pairs = await answered((res) => {
      presetHeaders(res, PRESET, 'req-1');
      const setHeader = jest.spyOn(res, 'setHeader');
      res.writeHead(200, ['Content-Type', 'application/json']);
      setHeaderCalls = setHeader.mock.calls.length;
      res.end('{}');
    });
    expect(setHeaderCalls).toBe(0);
    expect(sorted(pairs)).toEqual([
      ['content-type', 'application/json'],
      ['vary', 'Origin'],
      ['x-content-type-options', 'nosniff'],
      ['x-frame-options', 'DENY'],
      ['x-request-id', 'req-1'],
    ]);
  });

  it('adds the preset to an answer that set its headers one by one, and to an implicit one', async () => {
    const oneByOne = await answered((res) => {
      presetHeaders(res, PRESET, 'req-2');
      res.statusCode = 401;
      res.setHeader('WWW-Authenticate', 'Bearer');
      res.end();
    });
    expect(sorted(oneByOne)).toEqual([
      ['vary', 'Origin'],
      ['www-authenticate', 'Bearer'],
      ['x-content-type-options', 'nosniff'],
      ['x-frame-options', 'DENY'],
      ['x-request-id', 'req-2'],
    ]);
    const implicit = await answered((res) => {
      presetHeaders(res, PRESET, 'req-3');
      res.statusCode = 202;
      res.end();
    });
    expect(implicit.map(([name]) => name)).toEqual(
      expect.arrayContaining(['vary', 'x-content-type-options', 'x-frame-options', 'x-request-id']),
    );
  });

  it.each([
    ['setHeader', (res: ServerResponse) => res.setHeader('X-Frame-Options', 'SAMEORIGIN').writeHead(200)],
    ['a writeHead list', (res: ServerResponse) => res.writeHead(200, ['x-frame-options', 'SAMEORIGIN'])],
    ['a writeHead object', (res: ServerResponse) => res.writeHead(200, { 'X-Frame-Options': 'SAMEORIGIN' })],
    [
      'a reason and a list',
      (res: ServerResponse) => res.writeHead(200, 'Fine', ['X-Frame-Options', 'SAMEORIGIN']),
    ],
  ])('lets the answer’s own header replace a preset one (%s), once', async (_how, answer) => {
    const pairs = await answered((res) => {
      presetHeaders(res, PRESET, 'req-4');
      answer(res);
      res.end();
    });
    expect(pairs.filter(([name]) => name === 'x-frame-options')).toEqual([['x-frame-options', 'SAMEORIGIN']]);
    expect(pairs.filter(([name]) => name === 'x-content-type-options')).toHaveLength(1);
  });

  it('lets the answer’s own request id replace the preset one, once', async () => {
    const pairs = await answered((res) => {
      presetHeaders(res, PRESET, 'req-5');
      res.writeHead(200, ['X-Request-Id', 'mine']).end();
    });
    expect(pairs.filter(([name]) => name === 'x-request-id')).toEqual([['x-request-id', 'mine']]);
  });
});

describe('setHeaderUnlessPreset', () => {
  it('leaves a header the preset gives to the preset, and sets any other', async () => {
    let names: string[] = [];
    const pairs = await answered((res) => {
      presetHeaders(res, PRESET, 'req-6');
      setHeaderUnlessPreset(res, 'Vary', 'Origin');
      setHeaderUnlessPreset(res, 'X-Frame-Options', 'SAMEORIGIN');
      names = res.getHeaderNames();
      res.end();
    });
    expect(names).toEqual(['x-frame-options']);
    expect(pairs.filter(([name]) => name === 'vary')).toEqual([['vary', 'Origin']]);
    expect(pairs.filter(([name]) => name === 'x-frame-options')).toEqual([['x-frame-options', 'SAMEORIGIN']]);
  });

  it('sets the header on a response without a preset', async () => {
    const pairs = await answered((res) => {
      setHeaderUnlessPreset(res, 'Vary', 'Origin');
      res.end();
    });
    expect(pairs).toEqual([['vary', 'Origin']]);
  });

  it('refuses a preset that is not name, value pairs', () => {
    expect(() => new HeaderPreset(['Vary'])).toThrow('pairs');
  });
});
