import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppConfig } from '../config/app-config';
import { isAllowedRedirect, WorkOSAuthKitClient } from './authkit-client';
import { classifyCompletionError } from './completion-errors';

interface Seen {
  method?: string;
  url?: string;
  authorization?: string;
  body: unknown;
}

async function fakeWorkOS(answer: (res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      seen.push({
        method: req.method,
        url: req.url,
        authorization: req.headers.authorization,
        body: JSON.parse(raw || 'null'),
      });
      answer(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    seen,
    url,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const json = (status: number, body: unknown) => (res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

function client(apiUrl: string, completeTimeoutMs = 2000) {
  return new WorkOSAuthKitClient({
    workos: { apiKey: 'sk_test_x', clientId: 'client_x', apiUrl, authkitDomain: apiUrl },
    login: { completeTimeoutMs },
  } as AppConfig);
}

const request = {
  externalAuthId: 'ext_auth_123',
  user: { id: 'u1', email: 'a@b.co', firstName: 'Ann', metadata: { team: 'x' } },
  userConsentOptions: [
    { claim: 'urn:t', type: 'enum' as const, label: 'T', choices: [{ value: 'a', label: 'A' }] },
  ],
};

describe('WorkOSAuthKitClient', () => {
  it('posts the completion with the API key and returns the redirect_uri', async () => {
    const w = await fakeWorkOS(json(200, { redirect_uri: 'https://auth.test/x' }));
    try {
      await expect(client(w.url).completeOAuth2(request)).resolves.toEqual({
        redirectUri: 'https://auth.test/x',
      });
      expect(w.seen).toEqual([
        {
          method: 'POST',
          url: '/authkit/oauth2/complete',
          authorization: 'Bearer sk_test_x',
          body: {
            external_auth_id: 'ext_auth_123',
            user: { id: 'u1', email: 'a@b.co', first_name: 'Ann', metadata: { team: 'x' } },
            user_consent_options: request.userConsentOptions,
          },
        },
      ]);
    } finally {
      await w.close();
    }
  });

  it.each([500, 503, 429])('sends a completion exactly once even when AuthKit answers %i', async (status) => {
    const w = await fakeWorkOS(json(status, { message: 'nope' }));
    try {
      const err = await client(w.url)
        .completeOAuth2(request)
        .catch((e: unknown) => e);
      expect(classifyCompletionError(err)).toMatchObject({ kind: 'unknown', status });
      expect(w.seen).toHaveLength(1);
    } finally {
      await w.close();
    }
  });

  it('gives up after the timeout, once', async () => {
    const w = await fakeWorkOS(() => undefined);
    try {
      const started = Date.now();
      const err = await client(w.url, 300)
        .completeOAuth2(request)
        .catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(classifyCompletionError(err)).toMatchObject({ kind: 'unknown', code: 'authkit_unavailable' });
      expect(w.seen).toHaveLength(1);
    } finally {
      await w.close();
    }
  });

  it('surfaces the documented 400 codes through the SDK errors', async () => {
    const w = await fakeWorkOS(json(400, { code: 'email_not_available', message: 'taken' }));
    try {
      const err = await client(w.url)
        .completeOAuth2(request)
        .catch((e: unknown) => e);
      expect(classifyCompletionError(err)).toMatchObject({
        kind: 'rejected',
        code: 'email_not_available',
        status: 400,
      });
    } finally {
      await w.close();
    }
  });

  it('treats a missing API key as a configuration problem', async () => {
    const c = new WorkOSAuthKitClient({
      workos: { apiUrl: 'https://api.workos.com' },
      login: {},
    } as AppConfig);
    const err = await c.completeOAuth2(request).catch((e: unknown) => e);
    expect(classifyCompletionError(err)).toMatchObject({ kind: 'config' });
  });
});

describe('isAllowedRedirect', () => {
  const domain = 'https://acme.authkit.app';
  it.each([
    ['https://acme.authkit.app/oauth2/consent?x=1', true],
    ['https://acme.authkit.app:443/x', true],
    ['https://evil.example/x', false],
    ['https://acme.authkit.app.evil.example/x', false],
    ['http://acme.authkit.app/x', false],
    ['javascript:alert(1)', false],
    ['//evil.example', false],
    ['/relative', false],
    ['', false],
  ])('%s → %s', (uri, allowed) => {
    expect(isAllowedRedirect(uri, domain, true)).toBe(allowed);
  });

  it('accepts an http emulator origin outside production only', () => {
    expect(isAllowedRedirect('http://127.0.0.1:4100/oauth2/consent', 'http://127.0.0.1:4100', false)).toBe(
      true,
    );
    expect(isAllowedRedirect('http://127.0.0.1:4100/oauth2/consent', 'http://127.0.0.1:4100', true)).toBe(
      false,
    );
    expect(isAllowedRedirect('http://127.0.0.1:4101/x', 'http://127.0.0.1:4100', false)).toBe(false);
    expect(isAllowedRedirect('https://acme.authkit.app/x', undefined, false)).toBe(false);
  });
});
