import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  createLocalJWKSet,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
} from 'jose';
import { Clock } from '../clock';
import { fetchJson, MCP_FETCH, type FetchFn } from '../http/fetch-json';
import { MCP_SETTINGS, type McpSettings } from '../mcp-settings';

type LocalKeySet = ReturnType<typeof createLocalJWKSet>;
type KeyLike = Awaited<ReturnType<LocalKeySet>>;

/** No signing keys could be obtained at all: the bridge cannot verify anything right now. */
export class KeySetUnavailableError extends Error {
  readonly code = 'jwks_unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeySetUnavailableError';
  }
}

export interface KeyStoreStatus {
  keys: number;
  kids: string[];
  fetchedAt?: string;
  ageSeconds?: number;
  lastError?: string;
}

/**
 * AuthKit's signing keys (`$AUTHKIT_DOMAIN/oauth2/jwks`), the way jose's remote key set works
 * plus what it lacks for a long-running resource server:
 * - keys are cached; a set older than `jwksMaxAgeMs` is refreshed in the background while the
 *   current one stays in use;
 * - an unknown `kid` is refused at once (401, no fetch) while the set was fetched successfully
 *   within `jwksCooldownMs` (30 s, as jose's cooldown); after that, the first unknown `kid`
 *   triggers one refetch that later requests join. So made-up kids cost AuthKit at most one fetch
 *   per cooldown and hold nobody in between, and a key AuthKit rotated in is accepted at most a
 *   cooldown after the last fetch (at once when that fetch is older);
 * - at most `jwksMaxWaiting` requests wait for a fetch; beyond that they are refused at once (an
 *   unknown key, or "unavailable" while no set was ever fetched);
 * - when the last fetch failed (AuthKit unreachable), an unknown kid is "unavailable" (503, not an
 *   invalid token: the key may be a new one), and AuthKit is asked again at most once per
 *   `jwksRefetchIntervalMs` (1 s);
 * - a failed refresh keeps the last good set (AuthKit being briefly unreachable does not log
 *   everyone out); only when no set was ever fetched does verification fail as unavailable;
 * - one fetch in flight at a time, with a time limit and no redirects.
 */
@Injectable()
export class JwksKeyStore {
  private readonly logger = new Logger('McpJwks');
  private local?: LocalKeySet;
  private kids: string[] = [];
  private fetchedAt = 0;
  private lastAttemptAt = 0;
  private lastError?: string;
  private inflight?: Promise<void>;
  /** Requests waiting for the fetch in flight (at most jwksMaxWaiting). */
  private waiting = 0;

  constructor(
    @Inject(MCP_SETTINGS) private readonly settings: McpSettings,
    @Inject(MCP_FETCH) private readonly fetchFn: FetchFn,
    private readonly clock: Clock,
  ) {}

  /** The key resolver handed to jose's jwtVerify. */
  readonly getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<KeyLike> => {
    if (!this.local) {
      // Nothing fetched yet (or AuthKit was down at every try): fetch, but not more than once per
      // refetch interval, and with a bounded number of requests waiting for it.
      if (!this.inflight && !this.mayFetch())
        throw new KeySetUnavailableError(this.lastError ?? 'the key set could not be fetched');
      if (this.waiting >= this.settings.jwksMaxWaiting)
        throw new KeySetUnavailableError('too many requests are already waiting for the key set');
      await this.waitFor(this.refresh());
    }
    const now = this.clock.now();
    if (now - this.fetchedAt > this.settings.jwksMaxAgeMs) this.refreshInBackground();
    try {
      return await this.local!(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      // An unknown kid: AuthKit may have rotated, or the kid is made up. Joins a fetch in flight;
      // else refetches only when the last fetch is older than the cooldown (the refetch interval
      // after a failure); else refused at once.
      if (!this.inflight && !this.mayFetch()) throw this.unknownKey(err);
      if (this.waiting >= this.settings.jwksMaxWaiting) throw err;
      try {
        await this.waitFor(this.refresh());
      } catch {
        throw err;
      }
      try {
        return await this.local!(header, token);
      } catch (again) {
        if (!(again instanceof errors.JWKSNoMatchingKey)) throw again;
        throw this.unknownKey(again);
      }
    }
  };

  /**
   * A kid not in the set. When the last fetch failed, AuthKit could not be asked: the token may
   * well be signed by a key it just rotated in. Not the client's fault (a 503, not a 401 that
   * would send it to re-authorize in a loop).
   */
  private unknownKey(err: Error): Error {
    if (this.lastError === undefined) return err;
    return new KeySetUnavailableError(`unknown key, and the key set cannot be refreshed: ${this.lastError}`);
  }

  /**
   * Whether a fetch may start now: the last attempt is older than the cooldown (after a success)
   * or the refetch interval (after a failure, or while no set is held). A clock that went back
   * allows one.
   */
  private mayFetch(): boolean {
    const elapsed = this.clock.now() - this.lastAttemptAt;
    const spacing =
      this.local && this.lastError === undefined
        ? this.settings.jwksCooldownMs
        : this.settings.jwksRefetchIntervalMs;
    return this.lastAttemptAt === 0 || elapsed < 0 || elapsed >= spacing;
  }

  /** Waits for a fetch, counted against jwksMaxWaiting. */
  private async waitFor(fetch: Promise<void>): Promise<void> {
    this.waiting++;
    try {
      await fetch;
    } finally {
      this.waiting--;
    }
  }

  status(): KeyStoreStatus {
    const now = this.clock.now();
    return {
      keys: this.kids.length,
      kids: this.kids,
      ...(this.fetchedAt
        ? {
            fetchedAt: new Date(this.fetchedAt).toISOString(),
            ageSeconds: Math.round((now - this.fetchedAt) / 1000),
          }
        : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** True once a key set has been fetched (it may be stale). */
  hasKeys(): boolean {
    return this.local !== undefined;
  }

  /**
   * Fetches the key set now (joining a fetch already in flight). On failure the previous set
   * stays; rejects with KeySetUnavailableError only when there is no set at all.
   */
  refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private refreshInBackground(): void {
    if (this.inflight || this.clock.now() - this.lastAttemptAt < this.settings.jwksCooldownMs) return;
    this.refresh().catch(() => undefined);
  }

  private async load(): Promise<void> {
    const url = this.settings.jwksUrl;
    this.lastAttemptAt = this.clock.now();
    if (!url) throw new KeySetUnavailableError('AUTHKIT_DOMAIN is not configured');
    try {
      const { json } = await fetchJson(this.fetchFn, url, { timeoutMs: this.settings.fetchTimeoutMs });
      const jwks = json as JSONWebKeySet;
      if (!jwks || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
        throw new Error(`GET ${url} did not answer a JSON Web Key Set with keys`);
      }
      const local = createLocalJWKSet(jwks);
      this.local = local;
      this.kids = jwks.keys.map((k) => String(k.kid ?? '')).filter(Boolean);
      this.fetchedAt = this.clock.now();
      this.lastError = undefined;
    } catch (err) {
      this.lastError = (err as Error).message;
      if (this.local) {
        this.logger.warn(`AuthKit key set refresh failed; keeping the last good set: ${this.lastError}`);
        return;
      }
      this.logger.error(`AuthKit key set unavailable: ${this.lastError}`);
      throw new KeySetUnavailableError(this.lastError, { cause: err });
    }
  }
}
