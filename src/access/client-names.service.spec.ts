import { Logger } from '@nestjs/common';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig, type AppConfig } from '../config/app-config';
import {
  CLIENT_NAME_CACHE_SIZE,
  CLIENT_NAME_FAILURE_TTL_MS,
  CLIENT_NAME_MAX_BYTES,
  CLIENT_NAME_TTL_MS,
  ClientNameResolver,
  cleanClientName,
  isPublicAddress,
} from './client-names.service';

const development: AppConfig = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' });
const production: AppConfig = { ...development, env: 'production', production: true };

const CIMD = 'https://client.example.com/oauth/metadata.json';

const json = (body: unknown, init: ResponseInit = {}) =>
  new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' }, ...init });

/** A fake fetch that serves a CIMD document named after the URL's host, and counts calls. */
function fakeFetch(answer?: (url: string, init?: RequestInit) => Response | Promise<Response>) {
  return jest.fn(async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    return answer ? answer(url, init) : json({ client_id: url, client_name: `App at ${new URL(url).host}` });
  });
}

/** A resolver whose DNS answers are given (production mode checks them). */
class ResolverWithDns extends ClientNameResolver {
  readonly resolved: string[] = [];
  constructor(
    config: AppConfig,
    fetchFn: typeof fetch,
    private readonly dns: Record<string, string[]>,
  ) {
    super(config, fetchFn);
  }
  protected override async resolveHost(host: string): Promise<string[]> {
    this.resolved.push(host);
    const found = this.dns[host];
    if (!found) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
    return found;
  }
}

let debug: jest.SpyInstance;
beforeEach(() => {
  debug = jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());

describe('isPublicAddress', () => {
  it.each([
    '0.0.0.0',
    '0.1.2.3',
    '10.0.0.1',
    '10.255.255.255',
    '100.64.0.1',
    '100.127.255.254',
    '127.0.0.1',
    '127.1.2.3',
    '169.254.169.254',
    '172.16.0.1',
    '172.20.10.5',
    '172.31.255.255',
    '192.0.0.8',
    '192.0.2.1',
    '192.168.0.1',
    '192.168.255.255',
    '198.18.0.1',
    '198.19.255.255',
    '198.51.100.7',
    '203.0.113.9',
    '224.0.0.1',
    '239.255.255.250',
    '240.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    '0:0:0:0:0:0:0:1',
    'fc00::1',
    'fd12:3456:789a::1',
    'fe80::1',
    'fe80::1%eth0',
    'febf:ffff::1',
    'fec0::1',
    'ff02::1',
    'ff05::1:3',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::FFFF:10.0.0.1',
    '::ffff:169.254.169.254',
    '::ffff:192.168.1.1',
    '0:0:0:0:0:ffff:a00:1',
    '::127.0.0.1',
    '64:ff9b::10.0.0.1',
    '64:ff9b::7f00:1',
    '64:ff9b:1::1',
    '100::1',
    '2001:db8::1',
    '2001::1',
    '2002:7f00:1::1',
    '3fff::1',
    'not an ip',
    '',
    '256.1.1.1',
    '1.2.3',
    'localhost',
  ])('refuses %j', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '9.255.255.255',
    '11.0.0.1',
    '100.63.255.255',
    '100.128.0.1',
    '126.255.255.255',
    '128.0.0.1',
    '169.253.0.1',
    '172.15.255.255',
    '172.32.0.1',
    '192.167.1.1',
    '192.169.0.1',
    '198.20.0.1',
    '223.255.255.255',
    '2606:4700::1',
    '2606:4700:4700::1111',
    '2001:4860:4860::8888',
    '2a00:1450:4001:81a::200e',
    '::ffff:8.8.8.8',
    '::ffff:808:808',
    '64:ff9b::8.8.8.8',
  ])('accepts %j', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });
});

describe('cleanClientName', () => {
  it.each([
    ['  Claude  ', 'Claude'],
    ['Cursor\u0000\u0007 IDE', 'Cursor IDE'],
    ['Line\nbreak\tand\r\nmore', 'Line break and more'],
    ['evil\u202Etxt.exe', 'eviltxt.exe'],
    ['a\u2066b\u2069c\u200Fd', 'abcd'],
    ['   ', ''],
    ['Émile’s 🤖 client', 'Émile’s 🤖 client'],
  ])('%j → %j', (raw, clean) => {
    expect(cleanClientName(raw)).toBe(clean);
  });

  it('keeps 100 characters at most, without splitting a character', () => {
    expect(cleanClientName('x'.repeat(150))).toBe('x'.repeat(100));
    const emoji = cleanClientName('🤖'.repeat(120));
    expect(Array.from(emoji)).toHaveLength(100);
    expect(emoji).toBe('🤖'.repeat(100));
  });
});

describe('ClientNameResolver (fake fetch)', () => {
  it.each([
    'client_01HXYZ',
    'mcp-inspector',
    '',
    'urn:example:client',
    'ftp://client.example.com/x',
    'https//x',
  ])('answers null for the client id %j without any request', async (clientId) => {
    const fetchFn = fakeFetch();
    expect(await new ClientNameResolver(development, fetchFn).nameOf(clientId)).toBeNull();
    expect(fetchFn).not.toHaveBeenCalled();
  });

  it('fetches the metadata document: Accept JSON, no redirects followed, a time limit', async () => {
    const fetchFn = fakeFetch();
    expect(await new ClientNameResolver(development, fetchFn).nameOf(CIMD)).toBe('App at client.example.com');
    expect(fetchFn).toHaveBeenCalledTimes(1);
    const [url, init] = fetchFn.mock.calls[0];
    expect(url).toBe(CIMD);
    expect(init).toMatchObject({
      method: 'GET',
      redirect: 'manual',
      headers: { accept: 'application/json' },
    });
    expect(init?.signal).toBeInstanceOf(AbortSignal);
  });

  it('cleans up the name', async () => {
    const fetchFn = fakeFetch((url) =>
      json({ client_id: url, client_name: `  My\u0000 App\n${'z'.repeat(200)} ` }),
    );
    const name = await new ClientNameResolver(development, fetchFn).nameOf(CIMD);
    expect(name).toBe(`My App ${'z'.repeat(93)}`);
  });

  it.each([
    ['credentials', 'https://user:pass@client.example.com/m.json'],
    ['a user name', 'https://user@client.example.com/m.json'],
    ['a fragment', 'https://client.example.com/m.json#x'],
    ['an empty fragment', 'https://client.example.com/m.json#'],
  ])('refuses a URL with %s, without any request', async (_what, clientId) => {
    const fetchFn = fakeFetch();
    expect(await new ClientNameResolver(development, fetchFn).nameOf(clientId)).toBeNull();
    expect(fetchFn).not.toHaveBeenCalled();
  });

  it.each([
    ['another client_id', (url: string) => json({ client_id: `${url}?x`, client_name: 'Impostor' })],
    ['no client_id', () => json({ client_name: 'Nameless' })],
    ['no client_name', (url: string) => json({ client_id: url })],
    ['a client_name that is not a string', (url: string) => json({ client_id: url, client_name: ['A'] })],
    ['an empty client_name', (url: string) => json({ client_id: url, client_name: ' \u0000 ' })],
    ['a JSON array', (url: string) => json([{ client_id: url, client_name: 'A' }])],
    ['JSON null', () => json(null)],
    ['not JSON', () => new Response('<html>hello</html>', { headers: { 'content-type': 'text/html' } })],
    ['an empty body', () => new Response(null, { status: 200 })],
    ['HTTP 404', (url: string) => json({ client_id: url, client_name: 'A' }, { status: 404 })],
    ['HTTP 500', (url: string) => json({ client_id: url, client_name: 'A' }, { status: 500 })],
    [
      'a redirect',
      () => new Response(null, { status: 302, headers: { location: 'http://169.254.169.254/latest' } }),
    ],
    [
      'a body over 64 KiB',
      (url: string) =>
        json({ client_id: url, client_name: 'Big', padding: 'x'.repeat(CLIENT_NAME_MAX_BYTES) }),
    ],
    [
      'a network error',
      () => {
        throw new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') });
      },
    ],
  ])('answers null for %s', async (_what, answer) => {
    const fetchFn = fakeFetch(answer);
    await expect(new ClientNameResolver(development, fetchFn).nameOf(CIMD)).resolves.toBeNull();
    expect(fetchFn).toHaveBeenCalledTimes(1);
    expect(debug).toHaveBeenCalledWith(expect.stringContaining(`No client name for "${CIMD}"`));
  });

  it('gives up after 3 s even when fetch ignores the signal', async () => {
    const fetchFn = fakeFetch(() => new Promise<Response>(() => undefined));
    const started = Date.now();
    expect(await new ClientNameResolver(development, fetchFn).nameOf(CIMD)).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_900);
    expect(debug).toHaveBeenCalledWith(expect.stringContaining('no answer within 3000 ms'));
  });

  it('allows http: outside production only', async () => {
    const url = 'http://client.example.com/m.json';
    const fetchFn = fakeFetch();
    expect(await new ClientNameResolver(development, fetchFn).nameOf(url)).toBe('App at client.example.com');
    expect(await new ClientNameResolver(production, fetchFn).nameOf(url)).toBeNull();
    expect(fetchFn).toHaveBeenCalledTimes(1);
  });

  describe('in production', () => {
    it('fetches when every address of the host is public', async () => {
      const fetchFn = fakeFetch();
      const resolver = new ResolverWithDns(production, fetchFn, {
        'client.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
      });
      expect(await resolver.nameOf(CIMD)).toBe('App at client.example.com');
      expect(resolver.resolved).toEqual(['client.example.com']);
    });

    it.each([
      [['127.0.0.1']],
      [['10.1.2.3']],
      [['169.254.169.254']],
      [['::1']],
      [['fd00::1']],
      [['::ffff:192.168.0.10']],
      [['93.184.215.14', '192.168.1.1']],
      [['2606:4700::1', 'fe80::1']],
      [[]],
    ])('refuses a host that resolves to %j, without a request', async (addresses) => {
      const fetchFn = fakeFetch();
      const resolver = new ResolverWithDns(production, fetchFn, { 'client.example.com': addresses });
      expect(await resolver.nameOf(CIMD)).toBeNull();
      expect(fetchFn).not.toHaveBeenCalled();
    });

    it('answers null when the host does not resolve', async () => {
      const fetchFn = fakeFetch();
      expect(await new ResolverWithDns(production, fetchFn, {}).nameOf(CIMD)).toBeNull();
      expect(fetchFn).not.toHaveBeenCalled();
      expect(debug).toHaveBeenCalledWith(expect.stringContaining('ENOTFOUND'));
    });

    it.each([
      'https://127.0.0.1/m.json',
      'https://127.0.0.1:8443/m.json',
      'https://[::1]/m.json',
      'https://[::ffff:127.0.0.1]/m.json',
      'https://169.254.169.254/latest/meta-data',
      'https://10.0.0.1/m.json',
      'https://0.0.0.0/m.json',
      'https://2130706433/m.json', // 127.0.0.1, as URL normalizes it
      'https://0x7f.1/m.json',
      'https://localhost/m.json',
    ])('refuses %s (real DNS lookup of a literal or localhost), without a request', async (clientId) => {
      const fetchFn = fakeFetch();
      expect(await new ClientNameResolver(production, fetchFn).nameOf(clientId)).toBeNull();
      expect(fetchFn).not.toHaveBeenCalled();
    });

    it('fetches from a public IP literal', async () => {
      const fetchFn = fakeFetch();
      const url = 'https://[2606:4700::1]/m.json';
      expect(await new ClientNameResolver(production, fetchFn).nameOf(url)).toBe('App at [2606:4700::1]');
    });
  });

  describe('cache', () => {
    let now: number;
    beforeEach(() => {
      now = 1_800_000_000_000;
      jest.spyOn(Date, 'now').mockImplementation(() => now);
    });

    it('keeps a found name for an hour', async () => {
      const fetchFn = fakeFetch();
      const resolver = new ClientNameResolver(development, fetchFn);
      await resolver.nameOf(CIMD);
      now += CLIENT_NAME_TTL_MS - 1;
      expect(await resolver.nameOf(CIMD)).toBe('App at client.example.com');
      expect(fetchFn).toHaveBeenCalledTimes(1);
      now += 1;
      expect(await resolver.nameOf(CIMD)).toBe('App at client.example.com');
      expect(fetchFn).toHaveBeenCalledTimes(2);
    });

    it('keeps a failure for five minutes', async () => {
      let up = false;
      const fetchFn = fakeFetch((url) =>
        up ? json({ client_id: url, client_name: 'Back' }) : new Response('down', { status: 503 }),
      );
      const resolver = new ClientNameResolver(development, fetchFn);
      expect(await resolver.nameOf(CIMD)).toBeNull();
      up = true;
      now += CLIENT_NAME_FAILURE_TTL_MS - 1;
      expect(await resolver.nameOf(CIMD)).toBeNull();
      expect(fetchFn).toHaveBeenCalledTimes(1);
      now += 1;
      expect(await resolver.nameOf(CIMD)).toBe('Back');
      expect(fetchFn).toHaveBeenCalledTimes(2);
    });

    it('shares one lookup between concurrent callers', async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const fetchFn = fakeFetch(async (url) => {
        await gate;
        return json({ client_id: url, client_name: 'Shared' });
      });
      const resolver = new ClientNameResolver(development, fetchFn);
      const pending = [resolver.nameOf(CIMD), resolver.nameOf(CIMD), resolver.namesOf([CIMD, CIMD])];
      release();
      const [a, b, map] = await Promise.all(pending);
      expect([a, b]).toEqual(['Shared', 'Shared']);
      expect(map).toEqual(new Map([[CIMD, 'Shared']]));
      expect(fetchFn).toHaveBeenCalledTimes(1);
    });

    it(`holds ${CLIENT_NAME_CACHE_SIZE} client ids at most, evicting the oldest`, async () => {
      const fetchFn = fakeFetch();
      const resolver = new ClientNameResolver(development, fetchFn);
      const ids = Array.from(
        { length: CLIENT_NAME_CACHE_SIZE + 1 },
        (_, i) => `https://c${i}.example.com/m.json`,
      );
      await resolver.namesOf(ids);
      expect(fetchFn).toHaveBeenCalledTimes(CLIENT_NAME_CACHE_SIZE + 1);
      await resolver.nameOf(ids[1]); // still cached
      await resolver.nameOf(ids[CLIENT_NAME_CACHE_SIZE]);
      expect(fetchFn).toHaveBeenCalledTimes(CLIENT_NAME_CACHE_SIZE + 1);
      await resolver.nameOf(ids[0]); // evicted: fetched again
      expect(fetchFn).toHaveBeenCalledTimes(CLIENT_NAME_CACHE_SIZE + 2);
    });
  });

  it('namesOf: each distinct client id once, in parallel, non-URL ones as null', async () => {
    const other = 'https://other.example.net/cimd';
    let inFlight = 0;
    let most = 0;
    const fetchFn = fakeFetch(async (url) => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 20));
      inFlight--;
      return json({ client_id: url, client_name: `App at ${new URL(url).host}` });
    });
    const names = await new ClientNameResolver(development, fetchFn).namesOf([
      CIMD,
      'client_01ABC',
      other,
      CIMD,
    ]);
    expect(names).toEqual(
      new Map([
        [CIMD, 'App at client.example.com'],
        ['client_01ABC', null],
        [other, 'App at other.example.net'],
      ]),
    );
    expect(fetchFn).toHaveBeenCalledTimes(2);
    expect(most).toBe(2);
    expect(await new ClientNameResolver(development, fetchFn).namesOf([])).toEqual(new Map());
  });
});

describe('ClientNameResolver (a real local server, development mode, global fetch)', () => {
  let server: Server;
  let base: string;
  const requests: IncomingMessage[] = [];
  const routes: Record<string, (req: IncomingMessage, res: ServerResponse, url: string) => void> = {
    '/good.json': (_req, res, url) => send(res, { client_id: url, client_name: 'Local App', logo_uri: 'x' }),
    '/wrong-id.json': (_req, res) => send(res, { client_id: `${base}/other.json`, client_name: 'Impostor' }),
    '/not-json': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"client_name": ');
    },
    '/huge.json': (_req, res, url) => {
      // A valid document, 100 KiB of padding after the name.
      send(res, { client_id: url, client_name: 'Huge', padding: 'x'.repeat(100 * 1024) });
    },
    '/endless.json': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = `{"pad":"${'x'.repeat(16 * 1024)}`;
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    },
    '/hang.json': () => undefined,
    '/redirect.json': (_req, res) => {
      res.writeHead(302, { location: `${base}/good.json` });
      res.end();
    },
  };
  const send = (res: ServerResponse, body: unknown) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req);
      const route = routes[req.url ?? ''];
      if (route) route(req, res, `${base}${req.url}`);
      else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    requests.length = 0;
  });

  const resolver = () => new ClientNameResolver(development);

  it('reads the name, asking for JSON', async () => {
    expect(await resolver().nameOf(`${base}/good.json`)).toBe('Local App');
    expect(requests).toHaveLength(1);
    expect(requests[0].headers.accept).toBe('application/json');
  });

  it.each(['/wrong-id.json', '/not-json', '/huge.json', '/missing.json'])(
    'answers null for %s',
    async (path) => {
      expect(await resolver().nameOf(`${base}${path}`)).toBeNull();
    },
  );

  it('stops reading an endless body at 64 KiB, long before the time limit', async () => {
    const started = Date.now();
    expect(await resolver().nameOf(`${base}/endless.json`)).toBeNull();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(debug).toHaveBeenCalledWith(expect.stringContaining(`larger than ${CLIENT_NAME_MAX_BYTES} bytes`));
  });

  it('does not follow a redirect', async () => {
    expect(await resolver().nameOf(`${base}/redirect.json`)).toBeNull();
    expect(requests.map((r) => r.url)).toEqual(['/redirect.json']);
  });

  it('gives up on a server that does not answer after 3 s', async () => {
    const started = Date.now();
    expect(await resolver().nameOf(`${base}/hang.json`)).toBeNull();
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(2_900);
    expect(elapsed).toBeLessThan(5_000);
  });

  it('refuses the same server in production (http, and a loopback address), without a request', async () => {
    const prod = new ClientNameResolver(production);
    expect(await prod.nameOf(`${base}/good.json`)).toBeNull();
    expect(await prod.nameOf(`${base.replace('http:', 'https:')}/good.json`)).toBeNull();
    expect(requests).toHaveLength(0);
  });
});
