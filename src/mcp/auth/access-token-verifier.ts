import { Inject, Injectable } from '@nestjs/common';
import { errors, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { Clock } from '../clock';
import { MCP_SETTINGS, type McpSettings } from '../mcp-settings';
import { JwksKeyStore, KeySetUnavailableError } from './jwks-key-store';
import { TokenRejectedError, type TokenRejection } from './token-errors';

/** The facts the bridge takes from a verified AuthKit access token. */
export interface VerifiedAccessToken {
  sub: string;
  clientId: string | null;
  orgId: string | null;
  scopes: string[];
  /** `exp`, seconds since the epoch. */
  expiresAt: number;
  claims: JWTPayload;
}

/** Three base64url segments; checked before anything is decoded. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Verifies AuthKit access tokens with jose, in jose's own order: size and shape first, then the
 * header and the algorithm allow-list (RS256 only: `none` and HS256-with-the-public-key never
 * reach a key), the key from AuthKit's JWKS, the signature, then the claims: exact `iss`,
 * `aud` one of MCP_AUDIENCE, `exp`, `iat` and `sub` required, `nbf` and `iat` not in the future,
 * a few seconds of clock tolerance.
 */
@Injectable()
export class AccessTokenVerifier {
  private readonly options: JWTVerifyOptions;

  constructor(
    @Inject(MCP_SETTINGS) private readonly settings: McpSettings,
    private readonly keys: JwksKeyStore,
    private readonly clock: Clock,
  ) {
    this.options = {
      algorithms: ['RS256'],
      issuer: settings.issuer,
      audience: settings.audiences,
      requiredClaims: ['exp', 'iat', 'sub'],
      clockTolerance: settings.clockToleranceSeconds,
    };
  }

  /** Resolves the verified token, or rejects with TokenRejectedError / KeySetUnavailableError. */
  async verify(token: string): Promise<VerifiedAccessToken> {
    if (token.length > this.settings.maxTokenLength) throw new TokenRejectedError('too_large');
    if (!COMPACT_JWS.test(token)) throw new TokenRejectedError('malformed');
    if (!this.settings.issuer) throw new KeySetUnavailableError('AUTHKIT_DOMAIN is not configured');
    const now = this.clock.now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys.getKey, {
        ...this.options,
        currentDate: new Date(now),
      }));
    } catch (err) {
      if (err instanceof KeySetUnavailableError) throw err;
      throw new TokenRejectedError(rejectionFor(err), { cause: err });
    }
    if (typeof payload.iat === 'number' && payload.iat > now / 1000 + this.settings.clockToleranceSeconds) {
      throw new TokenRejectedError('not_yet_valid');
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new TokenRejectedError('missing_claims');
    return {
      sub: payload.sub,
      clientId: typeof payload.client_id === 'string' ? payload.client_id : null,
      orgId: typeof payload.org_id === 'string' ? payload.org_id : null,
      scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
      expiresAt: payload.exp as number,
      claims: payload,
    };
  }
}

function rejectionFor(err: unknown): TokenRejection {
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'iss':
        return 'wrong_issuer';
      case 'aud':
        return 'wrong_audience';
      case 'nbf':
      case 'iat':
        return err.reason === 'missing' ? 'missing_claims' : 'not_yet_valid';
      default:
        return 'missing_claims';
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported)
    return 'alg_not_allowed';
  if (err instanceof errors.JWKSNoMatchingKey) return 'unknown_key';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  return 'malformed';
}
