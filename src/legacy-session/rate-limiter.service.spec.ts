import { loadConfig } from '../config/app-config';
import type { PrismaClient } from '../generated/prisma/client';
import { RateLimiterService } from './rate-limiter.service';

const limiterFor = (env: Record<string, string> = {}) =>
  new RateLimiterService({} as PrismaClient, loadConfig(env));

describe('RateLimiterService', () => {
  it('keys client addresses by RATE_LIMIT_IPV6_PREFIX (default /64), IPv4 whole', () => {
    const byDefault = limiterFor();
    expect(byDefault.addressKey('2001:db8:1:2::7')).toBe('2001:db8:1:2::/64');
    expect(byDefault.addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(byDefault.addressKey(undefined)).toBe('unknown');
    const by48 = limiterFor({ RATE_LIMIT_IPV6_PREFIX: '48' });
    expect(by48.addressKey('2001:db8:1:2::7')).toBe('2001:db8:1::/48');
    expect(by48.addressKey('2001:db8:1:ffff::1')).toBe(by48.addressKey('2001:db8:1:2::7'));
    expect(by48.addressKey('192.0.2.1')).toBe('192.0.2.1');
  });

  it('takes its limits from LOGIN_RATE_LIMIT_*', () => {
    const limiter = limiterFor({
      LOGIN_RATE_LIMIT_PER_IP: '7',
      LOGIN_RATE_LIMIT_PER_ACCOUNT: '50',
      LOGIN_RATE_LIMIT_PER_ACCOUNT_AND_IP: '4',
      LOGIN_RATE_LIMIT_WINDOW_SECONDS: '1200',
      LOGIN_RATE_LIMIT_PER_SECOND: '3',
    });
    expect(limiter.limits).toEqual({
      perIp: { limit: 7, windowSeconds: 1200 },
      perAccount: { limit: 50, windowSeconds: 1200 },
      perAccountAndIp: { limit: 4, windowSeconds: 1200 },
      perInstance: { limit: 3, windowSeconds: 1 },
      loginStartPerIp: { limit: 120, windowSeconds: 600 }, // fixed
    });
  });

  it('lets LOGIN_RATE_LIMIT_PER_SECOND attempts through at once, then says how long to wait', () => {
    const limiter = limiterFor({ LOGIN_RATE_LIMIT_PER_SECOND: '3' });
    expect([limiter.takeInstanceSlot(), limiter.takeInstanceSlot(), limiter.takeInstanceSlot()]).toEqual([
      null,
      null,
      null,
    ]);
    expect(limiter.takeInstanceSlot()).toEqual({ retryAfterSeconds: 1 });
  });
});
