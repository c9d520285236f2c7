import express, { type Request, type Response, type Router } from 'express';
import { ClientError, registerClient, registrationResponse, resolveClient } from './clients';
import { issueTokens, SUPPORTED_SCOPES, verifyOwnToken, type Ctx } from './context';
import { errorPage, escapeHtml, page } from './html';
import { opaqueToken, prefixedId, safeEqual, sha256Base64url } from './ids';
import type { AuthorizationRequest, OAuthClient, PendingAuth } from './state';

/** A query or form parameter given once; `null` when repeated (RFC 6749 §3.1 forbids that). */
function single(source: Record<string, unknown>, name: string): string | undefined | null {
  const v = source[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') return null;
  return v === '' ? undefined : v;
}

const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const PKCE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

function checkResource(resource: string): boolean {
  try {
    const u = new URL(resource);
    return !u.hash && !resource.includes('#') && (u.protocol === 'https:' || u.protocol === 'http:');
  } catch {
    return false;
  }
}

function withParams(base: string, params: Record<string, string | undefined>): string {
  const u = new URL(base);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.toString();
}

export function issuerMetadata(ctx: Ctx): Record<string, unknown> {
  const iss = ctx.opts.issuer;
  return {
    issuer: iss,
    authorization_endpoint: `${iss}/oauth2/authorize`,
    token_endpoint: `${iss}/oauth2/token`,
    ...(ctx.opts.enableDynamicClientRegistration ? { registration_endpoint: `${iss}/oauth2/register` } : {}),
    introspection_endpoint: `${iss}/oauth2/introspection`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: SUPPORTED_SCOPES,
    token_endpoint_auth_methods_supported: ['none', 'client_secret_post', 'client_secret_basic'],
    introspection_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    client_id_metadata_document_supported: ctx.opts.cimd.enabled,
  };
}

export function openIdConfiguration(ctx: Ctx): Record<string, unknown> {
  const iss = ctx.opts.issuer;
  return {
    ...issuerMetadata(ctx),
    jwks_uri: `${iss}/oauth2/jwks`,
    userinfo_endpoint: `${iss}/oauth2/userinfo`,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    claims_supported: ['sub', 'email', 'email_verified', 'given_name', 'family_name', 'sid'],
  };
}

class TokenError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status = 400,
    readonly basic = false,
  ) {
    super(description);
  }
}

/** Authenticates the client at the token or introspection endpoint (RFC 6749 §2.3). */
async function authenticateClient(
  ctx: Ctx,
  req: Request,
  body: Record<string, unknown>,
): Promise<OAuthClient> {
  const header = req.get('authorization');
  let basic: { id: string; secret: string } | undefined;
  if (header && /^basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) throw new TokenError('invalid_client', 'malformed Basic credentials', 401, true);
    basic = {
      id: decodeURIComponent(decoded.slice(0, i).replace(/\+/g, ' ')),
      secret: decodeURIComponent(decoded.slice(i + 1).replace(/\+/g, ' ')),
    };
  }
  const bodyId = single(body, 'client_id');
  const bodySecret = single(body, 'client_secret');
  if (bodyId === null || bodySecret === null)
    throw new TokenError('invalid_request', 'repeated client parameter');
  if (basic && bodySecret) throw new TokenError('invalid_request', 'use one client authentication method');
  if (basic && bodyId && bodyId !== basic.id)
    throw new TokenError('invalid_request', 'client_id differs from the Basic credentials');
  const clientId = basic?.id ?? bodyId;
  if (!clientId) throw new TokenError('invalid_client', 'client_id is required', 401, !!basic);
  let client: OAuthClient;
  try {
    client = await resolveClient(ctx.state, clientId, ctx.opts.cimd);
  } catch (err) {
    if (err instanceof ClientError) throw new TokenError('invalid_client', err.description, 401, !!basic);
    throw err;
  }
  if (client.tokenEndpointAuthMethod !== 'none') {
    const secret = basic?.secret ?? bodySecret;
    if (!secret || !client.clientSecret || !safeEqual(secret, client.clientSecret))
      throw new TokenError('invalid_client', 'client authentication failed', 401, !!basic);
  }
  return client;
}

function sendTokenError(res: Response, err: TokenError): void {
  if (err.basic) res.set('WWW-Authenticate', 'Basic realm="authkit-emulator"');
  res.status(err.status).json({ error: err.error, error_description: err.description });
}

function parseScope(raw: string | undefined, fallback: string[]): string[] | undefined {
  if (raw === undefined) return [...fallback];
  const scopes = [...new Set(raw.split(' ').filter(Boolean))];
  if (scopes.some((s) => !SUPPORTED_SCOPES.includes(s))) return undefined;
  return scopes;
}

export function oauthRouter(ctx: Ctx): Router {
  const router = express.Router();
  const { state, opts } = ctx;
  const form = [express.urlencoded({ extended: false, limit: '64kb' }), express.json({ limit: '64kb' })];

  router.get('/.well-known/oauth-authorization-server', (_req, res) => {
    res.json(issuerMetadata(ctx));
  });
  router.get('/.well-known/openid-configuration', (_req, res) => {
    res.json(openIdConfiguration(ctx));
  });
  router.get('/oauth2/jwks', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=60').json(ctx.keys.jwks());
  });

  // --- /oauth2/authorize: validate, then hand the browser to the Login URI -------------------
  router.get('/oauth2/authorize', async (req, res) => {
    const q = req.query as Record<string, unknown>;
    const showError = (error: string, description: string) =>
      void res.status(400).type('html').send(errorPage(error, description));

    const clientId = single(q, 'client_id');
    if (!clientId) return showError('invalid_request', 'client_id is required (once)');
    let client: OAuthClient;
    try {
      client = await resolveClient(state, clientId, opts.cimd);
    } catch (err) {
      if (err instanceof ClientError) return showError(err.error, err.description);
      throw err;
    }
    const givenRedirect = single(q, 'redirect_uri');
    if (givenRedirect === null) return showError('invalid_request', 'redirect_uri is repeated');
    let redirectUri = givenRedirect;
    if (!redirectUri) {
      if (client.redirectUris.length !== 1)
        return showError('invalid_request', 'redirect_uri is required: the client registered several');
      redirectUri = client.redirectUris[0];
    }
    if (!client.redirectUris.includes(redirectUri))
      return showError('invalid_request', 'redirect_uri does not exactly match a registered redirect URI');

    // From here on the redirect URI is trusted: errors go back to the client (RFC 6749 §4.1.2.1).
    const stateParam = single(q, 'state');
    const back = (error: string, description: string) =>
      res.redirect(
        302,
        withParams(redirectUri, {
          error,
          error_description: description,
          state: stateParam ?? undefined,
        }),
      );
    if (stateParam === null) return back('invalid_request', 'state is repeated');
    if (stateParam && stateParam.length > 2048) return back('invalid_request', 'state is too long');
    const responseType = single(q, 'response_type');
    if (!responseType) return back('invalid_request', 'response_type is required');
    if (responseType !== 'code')
      return back('unsupported_response_type', 'only response_type=code is supported');
    if (!client.grantTypes.includes('authorization_code'))
      return back('unauthorized_client', 'the client may not use the authorization_code grant');
    const challenge = single(q, 'code_challenge');
    const method = single(q, 'code_challenge_method');
    if (!challenge) return back('invalid_request', 'code_challenge is required (PKCE with S256)');
    if (method !== 'S256') return back('invalid_request', 'code_challenge_method must be S256');
    if (!PKCE_CHALLENGE.test(challenge))
      return back('invalid_request', 'code_challenge must be 43 base64url characters');
    const rawScope = single(q, 'scope');
    if (rawScope === null) return back('invalid_scope', 'scope is repeated');
    const scope = parseScope(rawScope, opts.defaultScope);
    if (!scope) return back('invalid_scope', `supported scopes: ${SUPPORTED_SCOPES.join(' ')}`);
    const resource = single(q, 'resource');
    if (resource === null) return back('invalid_target', 'only one resource is supported');
    if (resource && !checkResource(resource))
      return back('invalid_target', 'resource must be an absolute http(s) URI without a fragment');
    const prompt = single(q, 'prompt');
    if (prompt === 'none')
      return back('login_required', 'the user must sign in (prompt=none is not supported)');
    const nonce = single(q, 'nonce');

    const request: AuthorizationRequest = {
      clientId: client.clientId,
      redirectUri,
      state: stateParam,
      scope,
      resource,
      codeChallenge: challenge,
      ...(nonce ? { nonce } : {}),
    };
    const now = Date.now();
    const pending: PendingAuth = {
      externalAuthId: prefixedId('ext_auth'),
      request,
      createdAt: now,
      expiresAt: now + opts.externalAuthTtlSeconds * 1000,
    };
    state.pending.set(pending.externalAuthId, pending);
    state.sweep(now);
    res.redirect(302, withParams(opts.loginUri, { external_auth_id: pending.externalAuthId }));
  });

  // --- the completion's redirect_uri: consent (if options were given), then the code ---------
  const pendingForTicket = (ticket: unknown): PendingAuth | string => {
    if (typeof ticket !== 'string' || !ticket) return 'the link is incomplete';
    const id = state.tickets.get(ticket);
    const pending = id ? state.pending.get(id) : undefined;
    if (!pending?.completed) return 'the link is unknown';
    if (pending.completed.ticketUsed) return 'the link was already used';
    if (pending.expiresAt <= Date.now()) return 'the sign-in request expired';
    return pending;
  };

  const approve = (res: Response, pending: PendingAuth, claims: Record<string, string>) => {
    const done = pending.completed!;
    done.ticketUsed = true;
    const req = pending.request;
    const code = opaqueToken();
    state.codes.set(code, {
      code,
      request: req,
      userId: done.userId,
      sessionId: prefixedId('session'),
      claims,
      expiresAt: Date.now() + opts.authorizationCodeTtlSeconds * 1000,
      used: false,
    });
    res.redirect(302, withParams(req.redirectUri, { code, state: req.state }));
  };

  router.get('/oauth2/consent', (req, res) => {
    const pending = pendingForTicket(req.query.ticket);
    if (typeof pending === 'string')
      return void res.status(400).type('html').send(errorPage('invalid_request', pending));
    const options = pending.completed!.consentOptions;
    if (options.length === 0) return approve(res, pending, {});
    const client = state.clients.get(pending.request.clientId);
    // One fieldset per option (its label the legend), one labelled radio button per choice.
    const fields = options
      .map(
        (o, i) => `<fieldset><legend>${escapeHtml(o.label)}</legend>
${o.choices
  .map(
    (c, j) =>
      `<div class="choice"><input type="radio" id="choice_${i}_${j}" name="choice_${i}" value="${escapeHtml(c.value)}"${j === 0 ? ' checked' : ''}> <label for="choice_${i}_${j}">${escapeHtml(c.label)}</label></div>`,
  )
  .join('\n')}
</fieldset>`,
      )
      .join('\n');
    const clientName = escapeHtml(client?.name ?? pending.request.clientId);
    res
      .type('html')
      .set('Cache-Control', 'no-store')
      .send(
        page(
          'Allow access',
          `<h1>Allow ${clientName} to access your account?</h1>
<form method="post" action="/oauth2/consent">
<input type="hidden" name="ticket" value="${escapeHtml(String(req.query.ticket))}">
<p>Choose what ${clientName} may use, then allow or deny.</p>
${fields}
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`,
        ),
      );
  });

  router.post('/oauth2/consent', express.urlencoded({ extended: false, limit: '16kb' }), (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const pending = pendingForTicket(body.ticket);
    if (typeof pending === 'string')
      return void res.status(400).type('html').send(errorPage('invalid_request', pending));
    if (body.decision === 'deny') {
      pending.completed!.ticketUsed = true;
      return void res.redirect(
        302,
        withParams(pending.request.redirectUri, {
          error: 'access_denied',
          error_description: 'the user denied access',
          state: pending.request.state,
        }),
      );
    }
    const claims: Record<string, string> = {};
    const options = pending.completed!.consentOptions;
    for (let i = 0; i < options.length; i++) {
      const value = body[`choice_${i}`];
      if (typeof value !== 'string' || !options[i].choices.some((c) => c.value === value))
        return void res
          .status(400)
          .type('html')
          .send(errorPage('invalid_request', `choose one of the options for ${options[i].label}`));
      claims[options[i].claim] = value;
    }
    approve(res, pending, claims);
  });

  // --- /oauth2/token --------------------------------------------------------------------------
  router.post('/oauth2/token', ...form, async (req, res) => {
    res.set('Cache-Control', 'no-store').set('Pragma', 'no-cache');
    const body = (req.body ?? {}) as Record<string, unknown>;
    try {
      const client = await authenticateClient(ctx, req, body);
      const grantType = single(body, 'grant_type');
      if (!grantType) throw new TokenError('invalid_request', 'grant_type is required');
      if (grantType !== 'authorization_code' && grantType !== 'refresh_token')
        throw new TokenError('unsupported_grant_type', `grant_type ${grantType} is not supported`);
      if (!client.grantTypes.includes(grantType))
        throw new TokenError('unauthorized_client', `the client may not use ${grantType}`);
      const resource = single(body, 'resource');
      if (resource === null) throw new TokenError('invalid_target', 'only one resource is supported');

      if (grantType === 'authorization_code') {
        const code = single(body, 'code');
        if (!code) throw new TokenError('invalid_request', 'code is required');
        const entry = state.codes.get(code);
        if (!entry) throw new TokenError('invalid_grant', 'the authorization code is invalid');
        if (entry.used) {
          // A replayed code: revoke what it produced (RFC 6749 §4.1.2).
          if (entry.familyId) state.revokeFamily(entry.familyId);
          throw new TokenError('invalid_grant', 'the authorization code was already used');
        }
        entry.used = true;
        if (entry.expiresAt <= Date.now())
          throw new TokenError('invalid_grant', 'the authorization code expired');
        if (entry.request.clientId !== client.clientId)
          throw new TokenError('invalid_grant', 'the authorization code was issued to another client');
        const redirectUri = single(body, 'redirect_uri');
        if (redirectUri === undefined) throw new TokenError('invalid_request', 'redirect_uri is required');
        if (redirectUri !== entry.request.redirectUri)
          throw new TokenError('invalid_grant', 'redirect_uri does not match the authorization request');
        const verifier = single(body, 'code_verifier');
        if (!verifier) throw new TokenError('invalid_request', 'code_verifier is required');
        if (!PKCE_VERIFIER.test(verifier))
          throw new TokenError('invalid_request', 'code_verifier must be 43-128 unreserved characters');
        if (!safeEqual(sha256Base64url(verifier), entry.request.codeChallenge))
          throw new TokenError('invalid_grant', 'PKCE verification failed (code_verifier does not match)');
        if (resource && resource !== entry.request.resource)
          throw new TokenError('invalid_target', 'resource differs from the authorization request');
        const familyId = prefixedId('rtf');
        entry.familyId = familyId;
        const now = Date.now();
        const user = state.users.get(entry.userId);
        if (user) user.lastSignInAt = new Date(now).toISOString();
        // The AuthKit session behind this grant: the tokens' `sid`, listed by the sessions API.
        state.sessions.set(entry.sessionId, {
          id: entry.sessionId,
          userId: entry.userId,
          clientId: client.clientId,
          createdAt: now,
          updatedAt: now,
          expiresAt: now + opts.refreshTokenTtlSeconds * 1000,
          status: 'active',
          ipAddress: req.ip?.replace(/^::ffff:/, ''),
          userAgent: req.get('user-agent'),
        });
        const tokens = await issueTokens(
          ctx,
          {
            clientId: client.clientId,
            userId: entry.userId,
            sessionId: entry.sessionId,
            scope: entry.request.scope,
            resource: entry.request.resource,
            claims: entry.claims,
            nonce: entry.request.nonce,
          },
          familyId,
        );
        return void res.json(tokens);
      }

      const token = single(body, 'refresh_token');
      if (!token) throw new TokenError('invalid_request', 'refresh_token is required');
      const rt = state.refreshTokens.get(token);
      if (!rt || state.revokedFamilies.has(rt.familyId))
        throw new TokenError('invalid_grant', 'the refresh token is invalid or revoked');
      if (rt.clientId !== client.clientId)
        throw new TokenError('invalid_grant', 'the refresh token was issued to another client');
      if (rt.used) {
        state.revokeFamily(rt.familyId);
        throw new TokenError(
          'invalid_grant',
          'the refresh token was already used; its token family is revoked',
        );
      }
      if (rt.expiresAt <= Date.now()) throw new TokenError('invalid_grant', 'the refresh token expired');
      const session = state.sessions.get(rt.sessionId);
      if (session?.status === 'revoked')
        throw new TokenError('invalid_grant', 'the session of this refresh token was revoked');
      const rawScope = single(body, 'scope');
      if (rawScope === null) throw new TokenError('invalid_scope', 'scope is repeated');
      let scope = rt.scope;
      if (rawScope !== undefined) {
        const asked = rawScope.split(' ').filter(Boolean);
        if (asked.some((s) => !rt.scope.includes(s)))
          throw new TokenError('invalid_scope', 'scope exceeds what was originally granted');
        scope = asked;
      }
      if (resource && resource !== rt.resource)
        throw new TokenError('invalid_target', 'resource differs from the original grant');
      rt.used = true;
      const tokens = await issueTokens(
        ctx,
        {
          clientId: rt.clientId,
          userId: rt.userId,
          sessionId: rt.sessionId,
          scope,
          // The rotated refresh token keeps the original grant; only this access token narrows.
          refreshScope: rt.scope,
          resource: rt.resource,
          claims: rt.claims,
        },
        rt.familyId,
      );
      if (session) {
        session.updatedAt = Date.now();
        session.expiresAt = session.updatedAt + opts.refreshTokenTtlSeconds * 1000;
      }
      res.json(tokens);
    } catch (err) {
      if (err instanceof TokenError) return sendTokenError(res, err);
      throw err;
    }
  });

  // --- /oauth2/register (RFC 7591) --------------------------------------------------------------
  if (opts.enableDynamicClientRegistration) {
    router.post('/oauth2/register', express.json({ limit: '32kb' }), (req, res) => {
      res.set('Cache-Control', 'no-store');
      try {
        const client = registerClient(state, req.body);
        res.status(201).json(registrationResponse(client));
      } catch (err) {
        if (err instanceof ClientError)
          return void res.status(400).json({ error: err.error, error_description: err.description });
        throw err;
      }
    });
  }

  // --- introspection (RFC 7662) and userinfo ----------------------------------------------------
  router.post('/oauth2/introspection', ...form, async (req, res) => {
    res.set('Cache-Control', 'no-store');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const header = req.get('authorization') ?? '';
    const byApiKey = /^bearer /i.test(header) && safeEqual(header.slice(7).trim(), opts.apiKey);
    if (!byApiKey) {
      try {
        await authenticateClient(ctx, req, body);
      } catch (err) {
        if (err instanceof TokenError) return sendTokenError(res, err);
        throw err;
      }
    }
    const token = single(body, 'token');
    if (!token)
      return void res.status(400).json({ error: 'invalid_request', error_description: 'token is required' });
    const rt = state.refreshTokens.get(token);
    if (rt) {
      const active = !rt.used && rt.expiresAt > Date.now() && !state.revokedFamilies.has(rt.familyId);
      return void res.json(
        active
          ? {
              active,
              token_type: 'refresh_token',
              client_id: rt.clientId,
              sub: rt.userId,
              scope: rt.scope.join(' '),
              exp: Math.floor(rt.expiresAt / 1000),
            }
          : { active: false },
      );
    }
    const claims = await verifyOwnToken(ctx, token);
    res.json(claims ? { active: true, token_type: 'access_token', ...claims } : { active: false });
  });

  router.get('/oauth2/userinfo', async (req, res) => {
    const header = req.get('authorization') ?? '';
    const claims = /^bearer /i.test(header) ? await verifyOwnToken(ctx, header.slice(7).trim()) : undefined;
    const user = claims?.sub ? state.users.get(claims.sub) : undefined;
    if (!claims || !user) {
      res.set('WWW-Authenticate', 'Bearer error="invalid_token"');
      return void res.status(401).json({ error: 'invalid_token', error_description: 'invalid access token' });
    }
    res.json({
      sub: user.id,
      email: user.email,
      email_verified: true,
      given_name: user.firstName ?? null,
      family_name: user.lastName ?? null,
    });
  });

  return router;
}
