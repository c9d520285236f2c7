/** In-memory state of one emulator instance. */

export interface OAuthClient {
  clientId: string;
  name?: string;
  redirectUris: string[];
  /** `none` for public clients (pre-registered, CIMD and most DCR clients). */
  tokenEndpointAuthMethod: 'none' | 'client_secret_post' | 'client_secret_basic';
  clientSecret?: string;
  grantTypes: string[];
  source: 'preregistered' | 'dynamic' | 'cimd';
  /** DCR: the scope the client registered with (echoed back; not enforced). */
  scope?: string;
  createdAt: number;
  /** CIMD: when the fetched document stops being cached (epoch ms). */
  cachedUntil?: number;
}

export interface ConsentOption {
  claim: string;
  type: 'enum';
  label: string;
  choices: Array<{ value: string; label: string }>;
}

export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  state?: string;
  scope: string[];
  resource?: string;
  codeChallenge: string;
  nonce?: string;
}

/** One `/oauth2/authorize` hand-off to the Login URI, identified by its external_auth_id. */
export interface PendingAuth {
  externalAuthId: string;
  request: AuthorizationRequest;
  createdAt: number;
  expiresAt: number;
  completed?: {
    userId: string;
    at: number;
    consentOptions: ConsentOption[];
    /** One-use ticket in the redirect_uri returned by the completion API. */
    ticket: string;
    ticketUsed: boolean;
  };
}

export interface AuthorizationCode {
  code: string;
  request: AuthorizationRequest;
  userId: string;
  sessionId: string;
  claims: Record<string, string>;
  expiresAt: number;
  used: boolean;
  /** The refresh-token family this code started, revoked if the code is replayed. */
  familyId?: string;
}

export interface RefreshToken {
  token: string;
  familyId: string;
  clientId: string;
  userId: string;
  sessionId: string;
  scope: string[];
  resource?: string;
  claims: Record<string, string>;
  expiresAt: number;
  used: boolean;
}

/**
 * An AuthKit session: one per approved authorization (its id is the tokens' `sid`), recorded
 * when the code is exchanged and kept across refreshes.
 */
export interface AuthkitSession {
  id: string;
  userId: string;
  clientId: string;
  /** Epoch ms. */
  createdAt: number;
  updatedAt: number;
  /** Ends with the refresh tokens: creation (or the latest refresh) plus the refresh-token TTL. */
  expiresAt: number;
  status: 'active' | 'revoked';
  endedAt?: number;
  /** Of the token request that started the session. */
  ipAddress?: string;
  userAgent?: string;
}

/**
 * What POST /user_management/sessions/revoke does: `works`; `fails` (500); `ignored` (answers
 * success but ends neither the session nor its refresh tokens).
 */
export type SessionRevocationMode = 'works' | 'fails' | 'ignored';

export interface EmulatedUser {
  id: string;
  externalId: string;
  email: string;
  firstName?: string;
  lastName?: string;
  metadata: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  lastSignInAt?: string;
}

export interface CompletionFault {
  status?: number;
  body?: unknown;
  delayMs?: number;
  times?: number;
  resetConnection?: boolean;
  /** Apply the fault after the completion was recorded (a lost response), not before. */
  afterCommit?: boolean;
}

export interface CompletionCall {
  externalAuthId: string;
  userId: string;
  at: number;
  /** The completion's outcome; 0 when a fault answered before anything was decided. */
  status: number;
  idempotencyKey?: string;
  /** The `user_consent_options` as sent (when the body had an array there). */
  consentOptions?: ConsentOption[];
  /** Set when an injected fault shaped the answer (e.g. 'status 500', 'connection reset'). */
  faulted?: string;
}

export class EmulatorState {
  readonly clients = new Map<string, OAuthClient>();
  readonly pending = new Map<string, PendingAuth>();
  /** ticket → external_auth_id */
  readonly tickets = new Map<string, string>();
  readonly codes = new Map<string, AuthorizationCode>();
  readonly refreshTokens = new Map<string, RefreshToken>();
  readonly revokedFamilies = new Set<string>();
  readonly users = new Map<string, EmulatedUser>();
  readonly completionCalls: CompletionCall[] = [];
  readonly faults: Array<CompletionFault & { remaining: number }> = [];
  readonly sessions = new Map<string, AuthkitSession>();
  sessionRevocation: SessionRevocationMode = 'works';

  userByExternalId(externalId: string): EmulatedUser | undefined {
    for (const u of this.users.values()) if (u.externalId === externalId) return u;
    return undefined;
  }

  userByEmail(email: string): EmulatedUser | undefined {
    const e = email.toLowerCase();
    for (const u of this.users.values()) if (u.email.toLowerCase() === e) return u;
    return undefined;
  }

  revokeFamily(familyId: string): void {
    this.revokedFamilies.add(familyId);
    for (const [token, rt] of this.refreshTokens)
      if (rt.familyId === familyId) this.refreshTokens.delete(token);
  }

  /** Ends a session and revokes every refresh-token family that belongs to it. */
  revokeSession(sessionId: string, now = Date.now()): void {
    const session = this.sessions.get(sessionId);
    if (session && session.status !== 'revoked') {
      session.status = 'revoked';
      session.endedAt = now;
      session.updatedAt = now;
    }
    const families = new Set<string>();
    for (const rt of this.refreshTokens.values()) if (rt.sessionId === sessionId) families.add(rt.familyId);
    for (const code of this.codes.values())
      if (code.sessionId === sessionId && code.familyId) families.add(code.familyId);
    for (const familyId of families) this.revokeFamily(familyId);
  }

  /** Drops expired entries so a long-running emulator does not grow without bound. */
  sweep(now = Date.now()): void {
    for (const [id, p] of this.pending) if (p.expiresAt + 3_600_000 < now) this.pending.delete(id);
    for (const [t, id] of this.tickets) if (!this.pending.has(id)) this.tickets.delete(t);
    for (const [c, code] of this.codes) if (code.expiresAt + 600_000 < now) this.codes.delete(c);
    for (const [t, rt] of this.refreshTokens) if (rt.expiresAt < now) this.refreshTokens.delete(t);
    for (const [id, s] of this.sessions)
      if (Math.min(s.expiresAt, s.endedAt ?? Infinity) + 86_400_000 < now) this.sessions.delete(id);
  }
}
