import { Logger } from '@nestjs/common';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { AppConfig } from '../config/app-config';
import { cookieValue } from './cookie-header';
import { LegacyInvalidUserError, LegacyUnavailableError } from './legacy-session.errors';
import { lenientRoles, lenientTenants, parseLegacyUser, type LegacyUser } from './legacy-user';

export type JwtCookieOptions = AppConfig['legacy']['jwt'] & { timeoutMs: number };

/** What a bad, expired or foreign token raises: the browser is simply not signed in. */
const NOT_SIGNED_IN = new Set<string>([
  errors.JWTExpired.code,
  errors.JWTClaimValidationFailed.code,
  errors.JWSSignatureVerificationFailed.code,
  errors.JWSInvalid.code,
  errors.JWTInvalid.code,
  errors.JOSEAlgNotAllowed.code,
  errors.JOSENotSupported.code,
  errors.JWKSNoMatchingKey.code,
  errors.JWKSMultipleMatchingKeys.code,
  errors.JWKInvalid.code,
]);

/** Tokens longer than this are refused before any parsing (a session JWT is < 4 KB). */
const MAX_TOKEN_LENGTH = 8192;

/** Seconds of clock skew tolerated on exp, nbf and iat. */
const CLOCK_TOLERANCE_SECONDS = 5;

/**
 * What to warn about at boot (production refuses these configurations outright, see
 * app-config.ts): a session JWT not pinned to an issuer and an audience is any JWT the same key
 * signed, for whatever purpose.
 */
export function jwtCookieWarnings(options: Pick<JwtCookieOptions, 'issuer' | 'audience'>): string[] {
  const missing = [
    ...(options.issuer ? [] : ['LEGACY_JWT_ISSUER']),
    ...(options.audience ? [] : ['LEGACY_JWT_AUDIENCE']),
  ];
  if (!missing.length) return [];
  return [
    `!!! jwt-cookie: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set, so any JWT signed with ` +
      "the legacy app's key (an API token, a token another of its services was issued) counts as a session " +
      'here. Set them to the iss and aud of the session JWT (e.g. LEGACY_JWT_ISSUER=https://app.example.com, ' +
      'LEGACY_JWT_AUDIENCE=connect-bridge); production refuses to start without them.',
  ];
}

/**
 * The jwt-cookie strategy's decisions: the legacy session is a JWT in a named cookie, verified
 * with jose against an HS* secret or a JWKS URL, pinned algorithms, issuer and audience when
 * configured, `exp` and `iat` required, no older than LEGACY_JWT_MAX_AGE_SECONDS counted from
 * `iat` (whatever `exp` says), the `typ` header when LEGACY_JWT_TYP is set, and mapped to a user
 * by configurable claim names.
 */
export class JwtCookieService {
  private readonly key: Uint8Array | JWTVerifyGetKey;
  /** Kinds of malformed role/tenant claims already warned about (once per process each). */
  private readonly warned = new Set<string>();

  constructor(
    private readonly options: JwtCookieOptions,
    key?: Uint8Array | JWTVerifyGetKey,
  ) {
    for (const warning of jwtCookieWarnings(options)) new Logger('LegacyJwtCookie').warn(warning);
    if (key) this.key = key;
    else if (options.secret) this.key = new TextEncoder().encode(options.secret);
    else if (options.jwksUrl)
      this.key = createRemoteJWKSet(new URL(options.jwksUrl), {
        timeoutDuration: options.timeoutMs,
        cooldownDuration: 30_000,
        cacheMaxAge: 10 * 60_000,
      });
    else throw new TypeError('jwt-cookie needs LEGACY_JWT_SECRET or LEGACY_JWT_JWKS_URL');
  }

  async verify(cookieHeader: string | undefined): Promise<LegacyUser | null> {
    const token = cookieValue(cookieHeader, this.options.cookie);
    if (!token || token.length > MAX_TOKEN_LENGTH) return null;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key as JWTVerifyGetKey, {
        algorithms: this.options.algorithms,
        ...(this.options.issuer ? { issuer: this.options.issuer } : {}),
        ...(this.options.audience ? { audience: this.options.audience } : {}),
        ...(this.options.typ ? { typ: this.options.typ } : {}),
        requiredClaims: ['exp', 'iat'],
        maxTokenAge: this.options.maxAgeSeconds,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (err) {
      if (err instanceof errors.JOSEError && NOT_SIGNED_IN.has(err.code)) return null;
      const detail =
        err instanceof errors.JWKSTimeout
          ? `the key set did not answer within ${this.options.timeoutMs} ms`
          : 'the key set could not be fetched';
      throw new LegacyUnavailableError(detail, { cause: err });
    }
    const claims = this.options.claims;
    const parsed = parseLegacyUser({
      id: payload[claims.id],
      email: payload[claims.email],
      first_name: stringOrUndefined(payload[claims.firstName]),
      last_name: stringOrUndefined(payload[claims.lastName]),
      roles: this.optionalList('roles', claims.roles, payload, lenientRoles),
      tenants: this.optionalList('tenants', claims.tenants, payload, lenientTenants),
    });
    if (!parsed.ok) throw new LegacyInvalidUserError(parsed.problems);
    return parsed.user;
  }

  /**
   * The roles or tenants claim. The session JWT was not written for the bridge, so its claims are
   * taken as they come: not an array (absent, a string, an object) means "says nothing"; entries
   * that are not role names or `{id, name}` tenants are dropped. Never a failed sign-in: fewer
   * roles or tenants only ever mean less access. A claim that was there but unusable is logged once.
   */
  private optionalList<T>(
    kind: 'roles' | 'tenants',
    claim: string,
    payload: JWTPayload,
    read: (value: unknown) => T[] | undefined,
  ): T[] | undefined {
    const value = payload[claim];
    if (value === undefined || value === null) return undefined;
    const list = read(value);
    const dropped = list === undefined || (value as unknown[]).some((entry) => read([entry])?.length !== 1);
    if (dropped && !this.warned.has(kind)) {
      this.warned.add(kind);
      new Logger('LegacyJwtCookie').warn(
        `jwt-cookie: the ${kind} claim "${claim}" ${list === undefined ? 'is not an array' : 'has entries'} the bridge cannot use ` +
          `(${kind === 'roles' ? 'role names: 1-100 printable characters, no spaces or commas' : 'tenants: {"id", "name"}'}); ` +
          'they are ignored (logged once)',
      );
    }
    return list;
  }
}

const stringOrUndefined = (v: unknown) => (typeof v === 'string' ? v : undefined);
