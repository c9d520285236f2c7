import { WorkOS } from '@workos-inc/node';
import type { AppConfig } from '../config/app-config';

/**
 * A WorkOS SDK client for the configured API (https://api.workos.com, or an emulator on
 * loopback). Each caller chooses its own time limit and retry policy: a completion must never
 * be retried behind the person's back, a user lookup may be.
 */
export function createWorkOS(
  workos: AppConfig['workos'],
  options: { timeoutMs: number; maxRetries: number },
): WorkOS {
  if (!workos.apiKey) throw Object.assign(new Error('WORKOS_API_KEY is not configured'), { status: 401 });
  const url = new URL(workos.apiUrl);
  return new WorkOS(workos.apiKey, {
    clientId: workos.clientId,
    apiHostname: url.hostname,
    https: url.protocol === 'https:',
    ...(url.port ? { port: Number(url.port) } : {}),
    timeout: options.timeoutMs,
    maxRetries: options.maxRetries,
  });
}
