import { jwtVerify, type JWTPayload } from 'jose';
import type { CimdOptions } from './clients';
import { opaqueToken, prefixedId, ulid } from './ids';
import type { KeyRing } from './keys';
import type { EmulatorState, RefreshToken } from './state';

/** Every option resolved to a value: what the routes read. */
export interface ResolvedOptions {
  issuer: string;
  loginUri: string;
  apiKey: string;
  clientId: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  authorizationCodeTtlSeconds: number;
  externalAuthTtlSeconds: number;
  defaultScope: string[];
  enableTestControl: boolean;
  enableDynamicClientRegistration: boolean;
  allowEmailChange: boolean;
  cimd: CimdOptions;
  log: (line: string) => void;
}

export interface Ctx {
  opts: ResolvedOptions;
  state: EmulatorState;
  keys: KeyRing;
}

export const SUPPORTED_SCOPES = ['email', 'offline_access', 'openid', 'profile'];
/** Claims a consent option may not set: the registered and AuthKit-controlled ones. */
export const RESERVED_CLAIMS = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'azp',
  'client_id',
  'sid',
  'scope',
  'org_id',
  'role',
  'roles',
  'permissions',
  'entitlements',
  'feature_flags',
  'act',
  'cnf',
  'nonce',
  'auth_time',
  'amr',
  'acr',
]);

export interface TokenGrant {
  clientId: string;
  userId: string;
  sessionId: string;
  scope: string[];
  resource?: string;
  claims: Record<string, string>;
  nonce?: string;
  /** The scope the refresh token keeps (the original grant) when this access token narrows it. */
  refreshScope?: string[];
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
}

/** Access token claims exactly as AUTHKIT-FACTS.md lists them, plus the consent claims. */
export function accessTokenClaims(ctx: Ctx, g: TokenGrant, now = Date.now()): JWTPayload {
  const iat = Math.floor(now / 1000);
  return {
    ...g.claims,
    iss: ctx.opts.issuer,
    sub: g.userId,
    aud: g.resource ?? ctx.opts.clientId,
    client_id: g.clientId,
    sid: g.sessionId,
    jti: ulid(now),
    scope: g.scope.join(' '),
    iat,
    exp: iat + ctx.opts.accessTokenTtlSeconds,
  };
}

/** Signs the tokens of one grant; a refresh token (in `familyId`) only with offline_access. */
export async function issueTokens(ctx: Ctx, g: TokenGrant, familyId?: string): Promise<TokenResponse> {
  const now = Date.now();
  const res: TokenResponse = {
    access_token: await ctx.keys.sign(accessTokenClaims(ctx, g, now)),
    token_type: 'Bearer',
    expires_in: ctx.opts.accessTokenTtlSeconds,
    scope: g.scope.join(' '),
  };
  const refreshScope = g.refreshScope ?? g.scope;
  if (refreshScope.includes('offline_access')) {
    const rt: RefreshToken = {
      token: opaqueToken(),
      familyId: familyId ?? prefixedId('rtf'),
      clientId: g.clientId,
      userId: g.userId,
      sessionId: g.sessionId,
      scope: refreshScope,
      resource: g.resource,
      claims: g.claims,
      expiresAt: now + ctx.opts.refreshTokenTtlSeconds * 1000,
      used: false,
    };
    ctx.state.refreshTokens.set(rt.token, rt);
    res.refresh_token = rt.token;
  }
  if (g.scope.includes('openid')) {
    const user = ctx.state.users.get(g.userId);
    const iat = Math.floor(now / 1000);
    res.id_token = await ctx.keys.sign({
      iss: ctx.opts.issuer,
      sub: g.userId,
      aud: g.clientId,
      iat,
      exp: iat + 3600,
      sid: g.sessionId,
      ...(g.nonce ? { nonce: g.nonce } : {}),
      ...(user && g.scope.includes('email') ? { email: user.email, email_verified: true } : {}),
      ...(user && g.scope.includes('profile')
        ? { given_name: user.firstName ?? null, family_name: user.lastName ?? null }
        : {}),
    });
  }
  return res;
}

/** Verifies a token this emulator issued (published keys, RS256, this issuer). */
export async function verifyOwnToken(ctx: Ctx, token: string): Promise<JWTPayload | undefined> {
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const key = ctx.keys.find(header.kid);
        if (!key) throw new Error('unknown kid');
        return key.publicKey;
      },
      { issuer: ctx.opts.issuer, algorithms: ['RS256'] },
    );
    return payload;
  } catch {
    return undefined;
  }
}
