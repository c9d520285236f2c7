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
 * - an unknown `kid` triggers a refetch, at most one per `jwksRefetchIntervalMs` (1 s) shared by
 *   every request waiting for it, so a key AuthKit just rotated in is accepted at once, while a
 *   flood of made-up kids cannot turn into a flood of requests to AuthKit; a kid still unknown
 *   after a refetch is refused without another one for `jwksCooldownMs`; when that refetch fails
 *   (AuthKit unreachable), the answer is "unavailable" (503), not "invalid token";
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
  private scheduled?: Promise<void>;
  /** kids still unknown after a refetch, and when (a made-up kid does not cause a refetch each time). */
  private readonly missingKids = new Map<string, number>();

  constructor(
    @Inject(MCP_SETTINGS) private readonly settings: McpSettings,
    @Inject(MCP_FETCH) private readonly fetchFn: FetchFn,
    private readonly clock: Clock,
  ) {}

  /** The key resolver handed to jose's jwtVerify. */
  readonly getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<KeyLike> => {
    if (!this.local) {
      // Nothing fetched yet (or AuthKit was down at every try): fetch, but not more than once a second.
      if (!this.inflight && this.lastError && this.clock.now() - this.lastAttemptAt < 1000) {
        throw new KeySetUnavailableError(this.lastError);
      }
      await this.refresh();
    }
    const now = this.clock.now();
    if (now - this.fetchedAt > this.settings.jwksMaxAgeMs) this.refreshInBackground();
    try {
      return await this.local!(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      // An unknown kid: AuthKit may have rotated. A kid that was still unknown after a refetch
      // within the cooldown is refused at once; any other waits for the next refetch (at most one
      // per jwksRefetchIntervalMs, shared by every waiting request), so a new key works at once.
      const kid = typeof header.kid === 'string' ? header.kid : '';
      const missingSince = this.missingKids.get(kid);
      if (missingSince !== undefined && now - missingSince < this.settings.jwksCooldownMs) throw err;
      try {
        await this.refetchSoon();
      } catch {
        throw err;
      }
      try {
        return await this.local!(header, token);
      } catch (again) {
        if (!(again instanceof errors.JWKSNoMatchingKey)) throw again;
        // AuthKit could not be asked: the token may well be signed by a key it just rotated in.
        // Not the client's fault (a 503, not a 401 that would send it to re-authorize in a loop).
        if (this.lastError !== undefined)
          throw new KeySetUnavailableError(
            `unknown key, and the key set cannot be refreshed: ${this.lastError}`,
          );
        this.rememberMissing(kid);
        throw again;
      }
    }
  };

  /** The refetch for an unknown kid: now, or when jwksRefetchIntervalMs has passed since the last try. */
  private refetchSoon(): Promise<void> {
    if (this.inflight) return this.inflight;
    const wait = this.lastAttemptAt + this.settings.jwksRefetchIntervalMs - this.clock.now();
    if (wait <= 0) return this.refresh();
    this.scheduled ??= new Promise<void>((resolve) => setTimeout(resolve, wait).unref())
      .then(() => this.refresh())
      .finally(() => {
        this.scheduled = undefined;
      });
    return this.scheduled;
  }

  private rememberMissing(kid: string): void {
    if (this.missingKids.size >= 1000) this.missingKids.clear();
    this.missingKids.set(kid, this.clock.now());
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
