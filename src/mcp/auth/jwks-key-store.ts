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
 * - an unknown `kid` triggers at most one refetch per `jwksCooldownMs` (a flood of made-up kids
 *   cannot turn into a flood of requests to AuthKit);
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
      // An unknown kid: AuthKit may have rotated. Refetch, at most once per cooldown.
      if (now - this.lastAttemptAt < this.settings.jwksCooldownMs) throw err;
      try {
        await this.refresh();
      } catch {
        throw err;
      }
      return this.local!(header, token);
    }
  };

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
