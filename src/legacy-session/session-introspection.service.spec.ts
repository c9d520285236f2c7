import { LegacyInvalidUserError, LegacyUnavailableError } from './legacy-session.errors';
import { SessionIntrospectionService } from './session-introspection.service';

type Call = { url: string; init: RequestInit };

function fakeFetch(answer: (call: Call) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fn = (async (url: string, init: RequestInit) => {
    const call = { url: String(url), init };
    calls.push(call);
    return answer(call);
  }) as unknown as typeof fetch;
  return { fn, calls };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

const service = (fetchFn: typeof fetch, cookieNames?: string[], timeoutMs = 1000) =>
  new SessionIntrospectionService(
    { sessionUrl: 'https://legacy.test/api/session', cookieNames, timeoutMs },
    fetchFn,
  );

describe('SessionIntrospectionService', () => {
  it('answers the user for a 200 with valid user JSON', async () => {
    const f = fakeFetch(() => json(200, { id: 'u1', email: 'a@b.co', first_name: 'Ann' }));
    await expect(service(f.fn).introspect('sid=1')).resolves.toEqual({
      id: 'u1',
      email: 'a@b.co',
      firstName: 'Ann',
    });
  });

  it('hands over the roles and tenants of the answer; malformed ones make the user invalid', async () => {
    const tenants = [
      { id: 't1', name: 'Acme' },
      { id: 't2', name: 'Globex' },
    ];
    const f = fakeFetch(() => json(200, { id: 'u1', email: 'a@b.co', roles: ['admin'], tenants }));
    await expect(service(f.fn).introspect('sid=1')).resolves.toEqual({
      id: 'u1',
      email: 'a@b.co',
      roles: ['admin'],
      tenants,
    });
    const bad = fakeFetch(() => json(200, { id: 'u1', email: 'a@b.co', roles: 'admin' }));
    await expect(service(bad.fn).introspect('sid=1')).rejects.toBeInstanceOf(LegacyInvalidUserError);
  });

  it('sends the cookies (not the bridge own), asks for JSON and refuses to follow redirects', async () => {
    const f = fakeFetch(() => json(401, {}));
    await service(f.fn).introspect('sid=1; cbridge_session=s%3Ax; other=2');
    expect(f.calls).toHaveLength(1);
    const headers = f.calls[0].init.headers as Record<string, string>;
    expect(f.calls[0].url).toBe('https://legacy.test/api/session');
    expect(headers.Cookie).toBe('sid=1; other=2');
    expect(headers.Accept).toBe('application/json');
    expect(f.calls[0].init.redirect).toBe('manual');
    expect(f.calls[0].init.signal).toBeInstanceOf(AbortSignal);
  });

  it('forwards only LEGACY_COOKIE_NAMES when set', async () => {
    const f = fakeFetch(() => json(401, {}));
    await service(f.fn, ['sid']).introspect('sid=1; other=2');
    expect((f.calls[0].init.headers as Record<string, string>).Cookie).toBe('sid=1');
  });

  it('does not call the legacy app when there is no cookie to forward', async () => {
    const f = fakeFetch(() => json(200, {}));
    await expect(service(f.fn).introspect(undefined)).resolves.toBeNull();
    await expect(service(f.fn, ['sid']).introspect('other=1')).resolves.toBeNull();
    expect(f.calls).toHaveLength(0);
  });

  it.each([401, 403])('answers null (not signed in) for %i', async (status) => {
    await expect(service(fakeFetch(() => json(status, {})).fn).introspect('sid=1')).resolves.toBeNull();
  });

  it.each([204, 302, 400, 404, 500, 503])('treats HTTP %i as the legacy app unavailable', async (status) => {
    const f = fakeFetch(
      () => new Response(null, { status, headers: status === 302 ? { location: '/login' } : {} }),
    );
    const err = await service(f.fn)
      .introspect('sid=1')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LegacyUnavailableError);
    expect((err as LegacyUnavailableError).code).toBe('legacy_unavailable');
    expect((err as Error).message).toContain(`HTTP ${status}`);
  });

  it('treats no answer within the timeout as unavailable', async () => {
    const f = fakeFetch(
      ({ init }) =>
        new Promise<Response>((_, reject) =>
          init.signal!.addEventListener('abort', () => reject(init.signal!.reason)),
        ),
    );
    const err = await service(f.fn, undefined, 50)
      .introspect('sid=1')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LegacyUnavailableError);
    expect((err as Error).message).toContain('no answer within 50 ms');
  });

  it('treats a refused connection as unavailable', async () => {
    const f = fakeFetch(() => Promise.reject(new TypeError('fetch failed')));
    await expect(service(f.fn).introspect('sid=1')).rejects.toThrow(/unreachable/);
  });

  it.each([
    ['not JSON', new Response('<html>', { status: 200 })],
    ['a body over 64 KB', json(200, { id: 'u1', email: 'a@b.co', pad: 'x'.repeat(70_000) })],
  ])('treats a 200 with %s as unavailable (not the protocol answer)', async (_what, response) => {
    const err = await service(fakeFetch(() => response).fn)
      .introspect('sid=1')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LegacyUnavailableError);
  });

  it.each([
    ['a JSON string', json(200, 'u1')],
    ['no email', json(200, { id: 'u1' })],
    ['a bad email', json(200, { id: 'u1', email: 'nope' })],
    ['an empty id', json(200, { id: '', email: 'a@b.co' })],
  ])('refuses a 200 with %s', async (_what, response) => {
    const err = await service(fakeFetch(() => response).fn)
      .introspect('sid=1')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LegacyInvalidUserError);
    expect((err as LegacyInvalidUserError).code).toBe('legacy_invalid_user');
  });
});
