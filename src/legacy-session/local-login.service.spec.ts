import type { BridgeSessionService } from '../sessions/bridge-session.service';
import { LocalLoginService } from './local-login.service';
import type { LocalUsersService, PasswordCheck } from './local-users.service';
import { RateLimiterService, type LoginRateLimits } from './rate-limiter.service';

/** An in-memory stand-in for the database-backed counters. */
class FakeLimiter {
  limits: LoginRateLimits = {
    perIp: { limit: 3, windowSeconds: 60 },
    perAccount: { limit: 2, windowSeconds: 60 },
    loginStartPerIp: { limit: 100, windowSeconds: 60 },
  };
  counts = new Map<string, number>();
  async hit(key: string) {
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    return { count, retryAfterSeconds: 60 };
  }
  async peek(key: string) {
    return { count: this.counts.get(key) ?? 0, retryAfterSeconds: 60 };
  }
  async reset(key: string) {
    this.counts.delete(key);
  }
}

function setup(check: (email: string, password: string) => PasswordCheck) {
  const limiter = new FakeLimiter();
  const verifyPassword = jest.fn(async (email: string, password: string) => check(email, password));
  const users = { verifyPassword } as unknown as LocalUsersService;
  const service = new LocalLoginService(
    users,
    limiter as unknown as RateLimiterService,
    {} as BridgeSessionService,
  );
  return { service, limiter, verifyPassword };
}

const ok = (email: string, password: string): PasswordCheck =>
  email === 'a@b.co' && password === 'right'
    ? { ok: true, user: { id: 'u1', email } }
    : { ok: false, code: 'invalid_credentials' };

describe('LocalLoginService', () => {
  it('signs in with the right password', async () => {
    const { service } = setup(ok);
    await expect(service.attempt('a@b.co', 'right', '1.1.1.1')).resolves.toEqual({
      ok: true,
      user: { id: 'u1', email: 'a@b.co' },
    });
  });

  it('counts failures per account and locks it before checking the password', async () => {
    const { service, verifyPassword } = setup(ok);
    for (const ip of ['1.1.1.1', '2.2.2.2']) {
      await expect(service.attempt('A@B.co ', 'wrong', ip)).resolves.toMatchObject({
        code: 'invalid_credentials',
      });
    }
    verifyPassword.mockClear();
    const locked = await service.attempt('a@b.co', 'right', '3.3.3.3');
    expect(locked).toEqual({ ok: false, code: 'rate_limited', retryAfterSeconds: 60 });
    expect(verifyPassword).not.toHaveBeenCalled();
  });

  it('clears the account counter after a successful sign-in', async () => {
    const { service, limiter } = setup(ok);
    await service.attempt('a@b.co', 'wrong', '1.1.1.1');
    await service.attempt('a@b.co', 'right', '1.1.1.1');
    expect(limiter.counts.get(RateLimiterService.key('account', 'a@b.co'))).toBeUndefined();
  });

  it('limits attempts per IP, whatever the account', async () => {
    const { service } = setup(ok);
    for (const email of ['x@b.co', 'y@b.co', 'z@b.co']) await service.attempt(email, 'wrong', '9.9.9.9');
    await expect(service.attempt('a@b.co', 'right', '9.9.9.9')).resolves.toMatchObject({
      code: 'rate_limited',
    });
    await expect(service.attempt('a@b.co', 'right', '8.8.8.8')).resolves.toMatchObject({ ok: true });
  });

  it.each([
    [undefined, 'pw'],
    ['a@b.co', undefined],
    ['', 'pw'],
    ['a@b.co', ''],
    [['a@b.co'], 'pw'],
    [{}, 'pw'],
  ])('refuses malformed input (%p, %p) without checking a password', async (email, password) => {
    const { service, verifyPassword } = setup(ok);
    await expect(service.attempt(email, password, '1.1.1.1')).resolves.toEqual({
      ok: false,
      code: 'invalid_credentials',
    });
    expect(verifyPassword).not.toHaveBeenCalled();
  });

  it('reports a disabled account (after its password matched) without counting a failure', async () => {
    const { service, limiter } = setup(() => ({ ok: false, code: 'user_disabled', userId: 'u1' }));
    await expect(service.attempt('a@b.co', 'right', '1.1.1.1')).resolves.toEqual({
      ok: false,
      code: 'user_disabled',
      userId: 'u1',
    });
    expect(limiter.counts.get(RateLimiterService.key('account', 'a@b.co'))).toBeUndefined();
  });
});
