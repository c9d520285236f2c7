import { forwardedCookieHeader } from './cookie-header';
import { LegacyInvalidUserError, LegacyUnavailableError } from './legacy-session.errors';
import { parseLegacyUser, type LegacyUser } from './legacy-user';

export interface SessionIntrospectionOptions {
  sessionUrl: string;
  /** Cookies forwarded; all but the bridge's own when unset. */
  cookieNames?: string[];
  timeoutMs: number;
}

/** Largest introspection body read; a user JSON is a few hundred bytes. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * The session-introspection protocol of ../shared/INTERFACE.md: forward the browser's cookies
 * to LEGACY_SESSION_URL and read the answer. 200 + user JSON: signed in; 401/403: not signed
 * in; anything else (a redirect, a 200 that is not JSON or is over 64 KB, no answer in time): the
 * legacy app is unavailable. A JSON body that does not describe a usable user: invalid user.
 */
export class SessionIntrospectionService {
  constructor(
    private readonly options: SessionIntrospectionOptions,
    private readonly fetchFn: typeof fetch = fetch,
  ) {}

  async introspect(cookieHeader: string | undefined): Promise<LegacyUser | null> {
    const cookie = forwardedCookieHeader(cookieHeader, this.options.cookieNames);
    if (!cookie) return null;
    let res: Response;
    try {
      res = await this.fetchFn(this.options.sessionUrl, {
        method: 'GET',
        headers: { Accept: 'application/json', Cookie: cookie },
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      const timedOut = (err as Error)?.name === 'TimeoutError' || (err as Error)?.name === 'AbortError';
      throw new LegacyUnavailableError(
        timedOut ? `no answer within ${this.options.timeoutMs} ms` : 'the session endpoint is unreachable',
        { cause: err },
      );
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel().catch(() => undefined);
      return null;
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      throw new LegacyUnavailableError(`the session endpoint answered HTTP ${res.status}`);
    }
    const body = await readJson(res);
    // Not the protocol's answer at all: "anything else" means unavailable (INTERFACE.md).
    if (body === undefined)
      throw new LegacyUnavailableError(
        'the session endpoint answered 200 without a JSON body (or over 64 KB)',
      );
    const parsed = parseLegacyUser(body);
    if (!parsed.ok) throw new LegacyInvalidUserError(parsed.problems);
    return parsed.user;
  }
}

async function readJson(res: Response): Promise<unknown> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    const reader = res.body?.getReader();
    for (;;) {
      const chunk = reader ? await reader.read() : { done: true as const, value: undefined };
      if (chunk.done) break;
      total += chunk.value.byteLength;
      if (total > MAX_BODY_BYTES) {
        await reader?.cancel().catch(() => undefined);
        return undefined;
      }
      chunks.push(chunk.value);
    }
  } catch (err) {
    throw new LegacyUnavailableError('the session endpoint broke off its answer', { cause: err });
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
