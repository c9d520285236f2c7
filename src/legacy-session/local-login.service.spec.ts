import { clientAddressKey } from '../common/client-address';
import type { AppConfig } from '../config/app-config';
import type { BridgeSessionService } from '../sessions/bridge-session.service';
import { DeviceCookies } from './device-cookie';
import { LocalLoginService } from './local-login.service';
import type { LocalUsersService, PasswordCheck } from './local-users.service';
import { RateLimiterService, type LoginRateLimits } from './rate-limiter.service';
import { SignInBusyError } from './sign-in-capacity';

/** An in-memory stand-in for the database-backed counters. */
class FakeLimiter {
  limits: LoginRateLimits = {
    perIp: { limit: 3, windowSeconds: 60 },
    perAccount: { limit: 4, windowSeconds: 60 },
    perAccountAndIp: { limit: 2, windowSeconds: 60 },
    perInstance: { limit: 100, windowSeconds: 1 },
    loginStartPerIp: { limit: 100, windowSeconds: 60 },
  };
  counts = new Map<string, number>();
  instanceFull = false;
  addressKey(ip: string | undefined) {
    return clientAddressKey(ip, 64);
  }
  takeInstanceSlot() {
    return this.instanceFull ? { retryAfterSeconds: 1 } : null;
  }
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
  async undo(key: string) {
    const count = this.counts.get(key) ?? 0;
    if (count > 0) this.counts.set(key, count - 1);
  }
  async hitInTurn(limits: Array<{ key: string; limit: number }>) {
    const states = [];
    for (const { key, limit } of limits) {
      const state = await this.hit(key);
      states.push(state);
      if (state.count > limit) break;
    }
    return states;
  }
  async resetAndUndo(resetKey: string, undoKey?: string) {
    await this.reset(resetKey);
    if (undoKey !== undefined) await this.undo(undoKey);
  }
}

const config = { session: { secret: 's'.repeat(32) }, secureCookies: false } as AppConfig;

function setup(check: (email: string, password: string) => PasswordCheck | Promise<PasswordCheck>) {
  const limiter = new FakeLimiter();
  const verifyPassword = jest.fn(async (email: string, password: string) => check(email, password));
  const users = { verifyPassword } as unknown as LocalUsersService;
  const service = new LocalLoginService(
    users,
    limiter as unknown as RateLimiterService,
    {} as BridgeSessionService,
    config,
  );
  return { service, limiter, verifyPassword };
}

const ok = (email: string, password: string): PasswordCheck =>
  email === 'a@b.co' && password === 'right'
    ? { ok: true, user: { id: 'u1', email } }
    : { ok: false, code: 'invalid_credentials' };

const from = (ip: string, device?: unknown) => ({ ip, device });
const accountKey = RateLimiterService.key('account', 'a@b.co');

describe('LocalLoginService', () => {
  it('signs in with the right password and hands out a device cookie for the account', async () => {
    const { service } = setup(ok);
    const result = await service.attempt('a@b.co', 'right', from('1.1.1.1'));
    expect(result).toEqual({ ok: true, user: { id: 'u1', email: 'a@b.co' }, device: expect.any(String) });
    const device = (result as { device: string }).device;
    expect(device).not.toContain('a@b.co');
    expect(service.devices.knows(device, 'a@b.co')).toBe(true);
    expect(service.devices.knows(device, 'x@b.co')).toBe(false);
  });

  it('locks an account for one address after its limit, before checking the password', async () => {
    const { service, verifyPassword } = setup(ok);
    for (let i = 0; i < 2; i++) {
      await expect(service.attempt('A@B.co ', 'wrong', from('1.1.1.1'))).resolves.toMatchObject({
        code: 'invalid_credentials',
      });
    }
    verifyPassword.mockClear();
    const locked = await service.attempt('a@b.co', 'right', from('1.1.1.1'));
    expect(locked).toEqual({ ok: false, code: 'rate_limited', retryAfterSeconds: 60 });
    expect(verifyPassword).not.toHaveBeenCalled();
  });

  it("does not let one address's wrong passwords lock the owner out elsewhere", async () => {
    const { service, limiter } = setup(ok);
    limiter.limits.perIp.limit = 1000;
    for (let i = 0; i < 10; i++) await service.attempt('a@b.co', `wrong-${i}`, from('6.6.6.6'));
    await expect(service.attempt('a@b.co', 'right', from('6.6.6.6'))).resolves.toMatchObject({
      code: 'rate_limited',
    });
    await expect(service.attempt('a@b.co', 'right', from('1.1.1.1'))).resolves.toMatchObject({ ok: true });
  });

  it('stops guesses spread over many addresses at the per-account ceiling', async () => {
    const { service, verifyPassword } = setup(ok);
    const statuses: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await service.attempt('a@b.co', 'wrong', from(`10.0.0.${i}`));
      statuses.push(r.ok ? 'ok' : r.code);
    }
    expect(statuses).toEqual([...Array(4).fill('invalid_credentials'), ...Array(2).fill('rate_limited')]);
    verifyPassword.mockClear();
    // A browser without the device cookie: refused even with the right password, unchecked.
    await expect(service.attempt('a@b.co', 'right', from('10.0.1.1'))).resolves.toMatchObject({
      code: 'rate_limited',
    });
    await expect(service.attempt('a@b.co', 'right', from('10.0.1.2', 'made-up'))).resolves.toMatchObject({
      code: 'rate_limited',
    });
    expect(verifyPassword).not.toHaveBeenCalled();
  });

  it("exempts the owner's device cookie from the per-account ceiling only", async () => {
    const { service } = setup(ok);
    const first = await service.attempt('a@b.co', 'right', from('1.1.1.1'));
    const device = (first as { device: string }).device;
    for (let i = 0; i < 8; i++) await service.attempt('a@b.co', 'wrong', from(`10.0.0.${i}`));
    await expect(service.attempt('a@b.co', 'right', from('10.0.1.1'))).resolves.toMatchObject({
      code: 'rate_limited',
    });
    await expect(service.attempt('a@b.co', 'right', from('10.0.1.1', device))).resolves.toMatchObject({
      ok: true,
    });
    // … not from the limit per account and address: wrong passwords with it still end there.
    for (let i = 0; i < 2; i++) await service.attempt('a@b.co', 'wrong', from('10.0.2.1', device));
    await expect(service.attempt('a@b.co', 'right', from('10.0.2.1', device))).resolves.toMatchObject({
      code: 'rate_limited',
    });
    // A device cookie for another account does not help with this one.
    const other = service.devices.remember(undefined, 'x@b.co');
    await expect(service.attempt('a@b.co', 'right', from('10.0.3.1', other))).resolves.toMatchObject({
      code: 'rate_limited',
    });
  });

  it('does not count the right password against the per-account ceiling, nor clear the failures', async () => {
    const { service, limiter } = setup(ok);
    await service.attempt('a@b.co', 'wrong', from('1.1.1.1'));
    await service.attempt('a@b.co', 'right', from('1.1.1.1'));
    expect(limiter.counts.get(accountKey)).toBe(1);
    // This address's own count is forgiven.
    expect(limiter.counts.get(RateLimiterService.key('account-ip', '1.1.1.1|a@b.co'))).toBeUndefined();
    for (let i = 0; i < 20; i++) {
      await expect(service.attempt('a@b.co', 'right', from(`10.1.0.${i}`))).resolves.toMatchObject({
        ok: true,
      });
    }
  });

  it('limits attempts per address, whatever the account', async () => {
    const { service } = setup(ok);
    for (const email of ['x@b.co', 'y@b.co', 'z@b.co'])
      await service.attempt(email, 'wrong', from('9.9.9.9'));
    await expect(service.attempt('a@b.co', 'right', from('9.9.9.9'))).resolves.toMatchObject({
      code: 'rate_limited',
    });
    await expect(service.attempt('a@b.co', 'right', from('8.8.8.8'))).resolves.toMatchObject({ ok: true });
  });

  it('counts the addresses of one IPv6 /64 as one, and IPv4-mapped ones as IPv4', async () => {
    const { service } = setup(ok);
    for (const [i, email] of ['x@b.co', 'y@b.co', 'z@b.co'].entries()) {
      await service.attempt(email, 'wrong', from(`2001:db8:1:2::${i + 1}`));
    }
    await expect(service.attempt('a@b.co', 'right', from('2001:db8:1:2:ffff::9'))).resolves.toMatchObject({
      code: 'rate_limited',
    });
    await expect(service.attempt('a@b.co', 'right', from('2001:db8:1:3::1'))).resolves.toMatchObject({
      ok: true,
    });
    for (const email of ['x@b.co', 'y@b.co', 'z@b.co'])
      await service.attempt(email, 'wrong', from('7.7.7.7'));
    await expect(service.attempt('a@b.co', 'right', from('::ffff:7.7.7.7'))).resolves.toMatchObject({
      code: 'rate_limited',
    });
  });

  it('answers busy at the instance ceiling, before counting or checking anything', async () => {
    const { service, limiter, verifyPassword } = setup(ok);
    limiter.instanceFull = true;
    await expect(service.attempt('a@b.co', 'right', from('1.1.1.1'))).rejects.toBeInstanceOf(SignInBusyError);
    expect(limiter.counts.size).toBe(0);
    expect(verifyPassword).not.toHaveBeenCalled();
  });

  it('passes on busy from the password hasher (never "wrong password")', async () => {
    const { service } = setup(() => {
      throw new SignInBusyError(1);
    });
    await expect(service.attempt('a@b.co', 'right', from('1.1.1.1'))).rejects.toMatchObject({
      status: 429,
      code: 'sign_in_busy',
    });
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
    await expect(service.attempt(email, password, from('1.1.1.1'))).resolves.toEqual({
      ok: false,
      code: 'invalid_credentials',
    });
    expect(verifyPassword).not.toHaveBeenCalled();
  });

  it('reports a disabled account (after its password matched) without counting a failure', async () => {
    const { service, limiter } = setup(() => ({ ok: false, code: 'user_disabled', userId: 'u1' }));
    await expect(service.attempt('a@b.co', 'right', from('1.1.1.1'))).resolves.toEqual({
      ok: false,
      code: 'user_disabled',
      userId: 'u1',
    });
    expect(limiter.counts.get(accountKey)).toBe(0);
    expect(limiter.counts.get(RateLimiterService.key('account-ip', '1.1.1.1|a@b.co'))).toBeUndefined();
  });
});

describe('DeviceCookies', () => {
  it('remembers up to five accounts, the latest first, for 90 days', () => {
    let now = Date.UTC(2026, 0, 1);
    const devices = new DeviceCookies('s'.repeat(32), false, () => now);
    let value: string | undefined;
    for (const n of [1, 2, 3, 4, 5, 6]) value = devices.remember(value, `u${n}@b.co`);
    expect(devices.knows(value, 'u6@b.co')).toBe(true);
    expect(devices.knows(value, 'u2@b.co')).toBe(true);
    expect(devices.knows(value, 'u1@b.co')).toBe(false); // the oldest fell off
    now += 89 * 86_400_000;
    expect(devices.knows(value, 'u6@b.co')).toBe(true);
    now += 2 * 86_400_000;
    expect(devices.knows(value, 'u6@b.co')).toBe(false);
  });

  it('knows only values made with this server secret, and nothing from junk', () => {
    const devices = new DeviceCookies('s'.repeat(32), false);
    const elsewhere = new DeviceCookies('t'.repeat(32), false);
    expect(devices.knows(elsewhere.remember(undefined, 'a@b.co'), 'a@b.co')).toBe(false);
    for (const junk of [undefined, false, 42, {}, '', 'x'.repeat(5000), 'a.b~c.d']) {
      expect(devices.knows(junk, 'a@b.co')).toBe(false);
    }
    // Junk in an old value is dropped when a sign-in renews it.
    expect(devices.remember('junk~more', 'a@b.co')).toMatch(/^[A-Za-z0-9_-]{22}\.\d+$/);
  });
});
