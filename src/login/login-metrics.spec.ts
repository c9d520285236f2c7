import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { WorkOSAuthKitClient } from '../authkit/authkit-client';
import type { AppConfig } from '../config/app-config';
import type { MetricsService } from '../metrics/metrics.service';
import { LOGIN_FAILURES } from './login-failures';
import {
  AUTHKIT_COMPLETION_METRIC,
  completionResult,
  LOGIN_OUTCOMES,
  LOGIN_OUTCOMES_METRIC,
  LoginMetrics,
} from './login-metrics';

function setup(strategy: AppConfig['legacy']['strategy'] = 'session-introspection') {
  const registry = new Registry();
  const metrics = new LoginMetrics({ registry } as MetricsService, { legacy: { strategy } } as AppConfig);
  const values = async (name: string) =>
    (await registry.getSingleMetric(name)!.get()).values.map((v) => ({
      name: (v as { metricName?: string }).metricName ?? name, // histograms: _bucket, _sum, _count
      labels: v.labels,
      value: v.value,
    }));
  const outcome = async (o: string) =>
    (await values(LOGIN_OUTCOMES_METRIC)).find((v) => v.labels.outcome === o)?.value;
  const completions = async () =>
    Object.fromEntries(
      (await values(AUTHKIT_COMPLETION_METRIC))
        .filter((v) => v.name.endsWith('_count'))
        .map((v) => [v.labels.result, v.value]),
    );
  return { registry, metrics, values, outcome, completions };
}

describe('LoginMetrics', () => {
  it('gives every failure code of the catalogue an outcome from a small closed set', () => {
    for (const code of Object.keys(LOGIN_FAILURES)) expect(LOGIN_OUTCOMES).toHaveProperty(code);
    const outcomes = new Set(Object.values(LOGIN_OUTCOMES));
    expect(outcomes.size).toBeLessThanOrEqual(20);
    for (const o of outcomes) expect(o).toMatch(/^[a-z_]+$/);
    expect(LOGIN_OUTCOMES).toMatchObject({
      completed: 'completed',
      invalid_credentials: 'invalid_credentials',
      csrf_failed: 'csrf_rejected',
      login_transaction_expired: 'expired_or_unknown_transaction',
      authkit_unavailable: 'authkit_unavailable',
    });
  });

  it('starts every series at 0, labelled with the configured strategy only', async () => {
    const { values, completions } = setup('jwt-cookie');
    const outcomes = await values(LOGIN_OUTCOMES_METRIC);
    expect(outcomes.map((v) => v.labels.outcome).sort()).toEqual(
      [...new Set(Object.values(LOGIN_OUTCOMES))].sort(),
    );
    for (const v of outcomes) expect(v).toMatchObject({ labels: { strategy: 'jwt-cookie' }, value: 0 });
    expect(await completions()).toEqual({ ok: 0, refused: 0, error: 0, timeout: 0 });
  });

  it('counts each ending under its outcome', async () => {
    const { metrics, outcome, registry } = setup('local');
    metrics.ended('completed');
    metrics.ended('invalid_credentials');
    metrics.ended('invalid_credentials');
    metrics.ended('email_not_available');
    metrics.ended('invalid_email');
    expect(await outcome('completed')).toBe(1);
    expect(await outcome('invalid_credentials')).toBe(2);
    expect(await outcome('email_rejected')).toBe(2);
    expect(await outcome('csrf_rejected')).toBe(0);
    expect(await registry.metrics()).toContain(
      'login_outcomes_total{strategy="local",outcome="invalid_credentials"} 2',
    );
  });

  it.each([
    [{ status: 400, rawData: { code: 'email_not_available' } }, 'refused'],
    [{ status: 404 }, 'refused'],
    [{ status: 401 }, 'refused'],
    [{ status: 503 }, 'error'],
    [{ status: 429 }, 'error'],
    [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'error'],
    [{ status: 408 }, 'timeout'],
  ])('classifies a completion failure %j as %s', (err, result) => {
    expect(completionResult(err)).toBe(result);
  });

  it('times completion calls by result and passes answers and errors through', async () => {
    const { metrics, completions, values } = setup();
    await expect(metrics.timeCompletion(async () => 'answer')).resolves.toBe('answer');
    const refused = { status: 400, rawData: { code: 'invalid_email' } };
    await expect(metrics.timeCompletion(() => Promise.reject(refused))).rejects.toBe(refused);
    await expect(metrics.timeCompletion(() => Promise.reject({ status: 502 }))).rejects.toEqual({
      status: 502,
    });
    expect(await completions()).toEqual({ ok: 1, refused: 1, error: 1, timeout: 0 });
    const sum = (await values(AUTHKIT_COMPLETION_METRIC)).find(
      (v) => v.name.endsWith('_sum') && v.labels.result === 'ok',
    );
    expect(sum!.value).toBeGreaterThanOrEqual(0);
    expect(sum!.value).toBeLessThan(1);
  });

  it('records the WorkOS SDK giving up after AUTHKIT_COMPLETE_TIMEOUT_MS as a timeout', async () => {
    const sockets: Socket[] = [];
    const server: Server = createServer((s) => sockets.push(s)); // accepts, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const client = new WorkOSAuthKitClient({
        workos: { apiKey: 'sk_test_x', clientId: 'client_x', apiUrl: url, authkitDomain: url },
        login: { completeTimeoutMs: 200 },
      } as AppConfig);
      const { metrics, completions } = setup();
      const call = metrics.timeCompletion(() =>
        client.completeOAuth2({ externalAuthId: 'ext_1', user: { id: 'u1', email: 'a@b.co' } }),
      );
      await expect(call).rejects.toBeDefined();
      expect(await completions()).toMatchObject({ timeout: 1, error: 0 });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
