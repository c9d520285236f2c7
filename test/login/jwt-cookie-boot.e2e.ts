/**
 * The jwt-cookie strategy's boot warning. A file of its own: nestjs-pino keeps one root logger per
 * process (the first app's), so the log of an app is captured only when it is the first one here.
 */
import { LogCapture } from '../helpers/app';
import { Browser } from './browser';
import { startHarness } from './harness';

describe('jwt-cookie strategy at boot', () => {
  it('warns once, outside production, when LEGACY_JWT_ISSUER and LEGACY_JWT_AUDIENCE are unset', async () => {
    const logs = new LogCapture();
    const h = await startHarness({
      strategy: 'jwt-cookie',
      logs,
      env: { LEGACY_JWT_ISSUER: '', LEGACY_JWT_AUDIENCE: '' },
    });
    try {
      // a few visits: the warning is about the configuration, written once, not per request
      for (let i = 0; i < 3; i++) await new Browser().go(h.authorizeUrl());
      expect(logs.lines.some((l) => l.includes('/auth/login'))).toBe(true); // the capture works
      const warnings = logs.lines.filter((l) => l.includes('LEGACY_JWT_ISSUER'));
      expect(warnings).toHaveLength(1);
      expect(JSON.parse(warnings[0])).toMatchObject({ level: 40, context: 'LegacyJwtCookie' });
      expect(warnings[0]).toMatch(/LEGACY_JWT_AUDIENCE/);
      expect(warnings[0]).not.toContain(h.legacy!.jwtSecret);
    } finally {
      await h.close();
    }
  });
});
