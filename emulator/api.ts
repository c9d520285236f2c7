import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { RESERVED_CLAIMS, type Ctx } from './context';
import { opaqueToken, prefixedId, safeEqual } from './ids';
import type { AuthkitSession, CompletionCall, ConsentOption, EmulatedUser } from './state';

/** Bearer API key check for the WorkOS API routes: 401 `{message}` (the SDK's UnauthorizedException). */
export function requireApiKey(ctx: Ctx) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.get('authorization') ?? '';
    const key = /^bearer /i.test(header) ? header.slice(7).trim() : '';
    if (!key || !safeEqual(key, ctx.opts.apiKey)) {
      res.status(401).json({ message: 'Unauthorized: missing or invalid API key', code: 'unauthorized' });
      return;
    }
    next();
  };
}

export function userJson(u: EmulatedUser): Record<string, unknown> {
  return {
    object: 'user',
    id: u.id,
    email: u.email,
    email_verified: true,
    first_name: u.firstName ?? null,
    last_name: u.lastName ?? null,
    profile_picture_url: null,
    last_sign_in_at: u.lastSignInAt ?? null,
    locale: null,
    created_at: u.createdAt,
    updated_at: u.updatedAt,
    external_id: u.externalId,
    metadata: u.metadata,
  };
}

/** A session's status as WorkOS reports it: `expired` once its time is up. */
export function sessionStatus(s: AuthkitSession, now = Date.now()): 'active' | 'expired' | 'revoked' {
  if (s.status === 'revoked') return 'revoked';
  return s.expiresAt <= now ? 'expired' : 'active';
}

/** The WorkOS session object, as `userManagement.listSessions` deserializes it. */
export function sessionJson(s: AuthkitSession, now = Date.now()): Record<string, unknown> {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    object: 'session',
    id: s.id,
    user_id: s.userId,
    ip_address: s.ipAddress ?? null,
    user_agent: s.userAgent ?? null,
    auth_method: 'external_auth',
    status: sessionStatus(s, now),
    expires_at: iso(s.expiresAt),
    ended_at: s.endedAt === undefined ? null : iso(s.endedAt),
    created_at: iso(s.createdAt),
    updated_at: iso(s.updatedAt),
  };
}

/**
 * One page of a WorkOS list: `order` (default desc by creation), `limit` (1-100, default 10),
 * `after`/`before` (the id of an item: the page starts after it, or ends before it).
 */
function listPage<T extends { id: string; createdAt: number }>(
  items: T[],
  query: Record<string, unknown>,
): { page: T[]; before: string | null; after: string | null } | string {
  const order = query.order === undefined ? 'desc' : query.order;
  if (order !== 'asc' && order !== 'desc') return 'order must be "asc" or "desc"';
  let limit = 10;
  if (query.limit !== undefined) {
    limit = Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return 'limit must be an integer from 1 to 100';
  }
  // A stable sort: items created in the same millisecond keep their insertion order.
  const sorted = [...items].sort((a, b) => a.createdAt - b.createdAt);
  if (order === 'desc') sorted.reverse();
  const after = typeof query.after === 'string' && query.after ? query.after : undefined;
  const before = typeof query.before === 'string' && query.before ? query.before : undefined;
  let start = 0;
  let end = sorted.length;
  if (after) start = sorted.findIndex((i) => i.id === after) + 1; // unknown cursor: from the start
  if (before) {
    const i = sorted.findIndex((x) => x.id === before);
    if (i >= 0) end = i;
  }
  if (end < start) end = start;
  // With `before` the page is the last `limit` items before the cursor.
  if (before && !after) start = Math.max(start, end - limit);
  else end = Math.min(end, start + limit);
  const page = sorted.slice(start, end);
  return {
    page,
    before: page.length && start > 0 ? page[0].id : null,
    after: page.length && end < sorted.length ? page[page.length - 1].id : null,
  };
}

const EMAIL =
  /^[^\s@"(),:;<>[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;

interface Outcome {
  status: number;
  body: unknown;
}

const invalid = (errors: Array<{ field: string; code: string; message: string }>): Outcome => ({
  status: 422,
  body: {
    code: 'invalid_request_parameters',
    message: `Validation failed: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`,
    errors,
  },
});

const optionalName = (v: unknown) =>
  v === undefined || v === null || (typeof v === 'string' && v.length <= 256);

/** The completion API's whole decision: validation, the pending login, the user upsert. */
function complete(ctx: Ctx, body: unknown): Outcome {
  const { state, opts } = ctx;
  const errors: Array<{ field: string; code: string; message: string }> = [];
  const b = (body && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  const externalAuthId = b.external_auth_id;
  if (typeof externalAuthId !== 'string' || !externalAuthId)
    errors.push({ field: 'external_auth_id', code: 'required', message: 'must be a non-empty string' });
  const user = (b.user && typeof b.user === 'object' && !Array.isArray(b.user) ? b.user : undefined) as
    Record<string, unknown> | undefined;
  if (!user) errors.push({ field: 'user', code: 'required', message: 'must be an object' });
  else {
    if (typeof user.id !== 'string' || !user.id || user.id.length > 256)
      errors.push({ field: 'user.id', code: 'invalid', message: 'must be a string of 1-256 characters' });
    if (typeof user.email !== 'string' || !user.email)
      errors.push({ field: 'user.email', code: 'required', message: 'must be a non-empty string' });
    if (!optionalName(user.first_name))
      errors.push({
        field: 'user.first_name',
        code: 'invalid',
        message: 'must be a string of at most 256 characters',
      });
    if (!optionalName(user.last_name))
      errors.push({
        field: 'user.last_name',
        code: 'invalid',
        message: 'must be a string of at most 256 characters',
      });
    const md = user.metadata;
    if (md !== undefined && md !== null) {
      if (typeof md !== 'object' || Array.isArray(md))
        errors.push({ field: 'user.metadata', code: 'invalid', message: 'must be an object of strings' });
      else {
        const entries = Object.entries(md as Record<string, unknown>);
        if (entries.length > 50)
          errors.push({ field: 'user.metadata', code: 'too_many_keys', message: 'may hold at most 50 keys' });
        for (const [k, v] of entries) {
          if (k.length > 40)
            errors.push({
              field: `user.metadata.${k}`,
              code: 'key_too_long',
              message: 'keys are at most 40 characters',
            });
          if (typeof v !== 'string' || v.length > 600)
            errors.push({
              field: `user.metadata.${k}`,
              code: 'invalid_value',
              message: 'values are strings of at most 600 characters',
            });
        }
      }
    }
  }
  const rawOptions = b.user_consent_options;
  let consentOptions: ConsentOption[] = [];
  if (rawOptions !== undefined && rawOptions !== null) {
    if (!Array.isArray(rawOptions))
      errors.push({ field: 'user_consent_options', code: 'invalid', message: 'must be an array' });
    else {
      rawOptions.forEach((o: unknown, i) => {
        const opt = (o ?? {}) as Record<string, unknown>;
        const ok =
          typeof opt.claim === 'string' &&
          opt.claim.length > 0 &&
          opt.type === 'enum' &&
          typeof opt.label === 'string' &&
          Array.isArray(opt.choices) &&
          opt.choices.length > 0 &&
          opt.choices.every(
            (c: unknown) =>
              !!c &&
              typeof (c as Record<string, unknown>).value === 'string' &&
              typeof (c as Record<string, unknown>).label === 'string',
          );
        if (!ok)
          errors.push({
            field: `user_consent_options[${i}]`,
            code: 'invalid',
            message: 'needs claim, type "enum", label and non-empty choices of {value, label}',
          });
      });
      if (!errors.length) consentOptions = rawOptions as ConsentOption[];
    }
  }
  if (errors.length) return invalid(errors);

  const reserved = consentOptions.find((o) => RESERVED_CLAIMS.has(o.claim));
  if (reserved)
    return {
      status: 400,
      body: {
        error: 'invalid_request',
        message: `"${reserved.claim}" is a reserved claim and cannot be a consent option`,
      },
    };
  const u = user as {
    id: string;
    email: string;
    first_name?: string;
    last_name?: string;
    metadata?: Record<string, string>;
  };
  if (u.email.length > 254 || !EMAIL.test(u.email))
    return { status: 400, body: { code: 'invalid_email', message: 'The email address is not valid.' } };

  const pending = state.pending.get(externalAuthId as string);
  if (!pending || pending.expiresAt <= Date.now())
    return {
      status: 404,
      body: { message: 'External auth session not found or expired.', code: 'entity_not_found' },
    };
  if (pending.completed)
    return {
      status: 400,
      body: {
        code: 'external_auth_session_already_completed',
        message: 'This external auth session has already been completed.',
      },
    };

  const now = new Date().toISOString();
  const existing = state.userByExternalId(u.id);
  const owner = state.userByEmail(u.email);
  if (existing) {
    if (existing.email.toLowerCase() !== u.email.toLowerCase()) {
      if (!opts.allowEmailChange)
        return {
          status: 400,
          body: {
            code: 'email_change_not_allowed',
            message: 'Changing the email of this user is not allowed.',
          },
        };
      if (owner && owner.id !== existing.id)
        return {
          status: 400,
          body: { code: 'email_not_available', message: 'The email is used by another user.' },
        };
    }
  } else if (owner) {
    return {
      status: 400,
      body: { code: 'email_not_available', message: 'The email is used by another user.' },
    };
  }
  const record: EmulatedUser = existing ?? {
    id: prefixedId('user'),
    externalId: u.id,
    email: u.email,
    metadata: {},
    createdAt: now,
    updatedAt: now,
  };
  record.email = u.email;
  if (u.first_name !== undefined) record.firstName = u.first_name ?? undefined;
  if (u.last_name !== undefined) record.lastName = u.last_name ?? undefined;
  if (u.metadata) record.metadata = { ...u.metadata };
  record.updatedAt = now;
  state.users.set(record.id, record);

  const ticket = opaqueToken();
  state.tickets.set(ticket, pending.externalAuthId);
  pending.completed = { userId: record.id, at: Date.now(), consentOptions, ticket, ticketUsed: false };
  return { status: 200, body: { redirect_uri: `${opts.issuer}/oauth2/consent?ticket=${ticket}` } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function apiRouter(ctx: Ctx): Router {
  const router = express.Router();
  const { state } = ctx;
  const auth = requireApiKey(ctx);

  router.post(
    '/authkit/oauth2/complete',
    auth,
    express.json({ limit: '256kb' }),
    async (req: Request, res: Response) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const call: CompletionCall = {
        externalAuthId: typeof body.external_auth_id === 'string' ? body.external_auth_id : '',
        userId:
          body.user && typeof (body.user as Record<string, unknown>).id === 'string'
            ? ((body.user as Record<string, unknown>).id as string)
            : '',
        at: Date.now(),
        status: 0,
        idempotencyKey: req.get('idempotency-key'),
        ...(Array.isArray(body.user_consent_options)
          ? { consentOptions: structuredClone(body.user_consent_options) as ConsentOption[] }
          : {}),
      };
      state.completionCalls.push(call);

      const fault = state.faults[0];
      if (fault) {
        fault.remaining -= 1;
        if (fault.remaining <= 0) state.faults.shift();
      }
      const applyFault = async (): Promise<boolean> => {
        if (!fault) return false;
        if (fault.delayMs) await sleep(fault.delayMs);
        // After a commit the call keeps the status of what was committed; `faulted` says what was sent.
        if (fault.resetConnection) {
          if (!fault.afterCommit) call.status = 0;
          call.faulted = 'connection reset';
          req.socket.destroy();
          return true;
        }
        if (fault.status) {
          if (!fault.afterCommit) call.status = fault.status;
          call.faulted = `status ${fault.status}`;
          res.status(fault.status).json(fault.body ?? { message: `Injected fault (${fault.status})` });
          return true;
        }
        return false;
      };
      if (!fault?.afterCommit && (await applyFault())) return;
      const outcome = complete(ctx, body);
      call.status = outcome.status;
      ctx.opts.log(
        `completion ${call.externalAuthId || '(none)'} → ${outcome.status}${outcome.status === 200 ? '' : ` ${JSON.stringify(outcome.body)}`}`,
      );
      if (fault?.afterCommit && (await applyFault())) return;
      res.status(outcome.status).json(outcome.body);
    },
  );

  router.get('/user_management/users/external_id/:externalId', auth, (req, res) => {
    const user = state.userByExternalId(String(req.params.externalId));
    if (!user) return void res.status(404).json({ message: 'User not found.', code: 'entity_not_found' });
    res.json(userJson(user));
  });

  router.get('/user_management/users/:id/sessions', auth, (req, res) => {
    const userId = String(req.params.id);
    if (!state.users.has(userId))
      return void res.status(404).json({ message: 'User not found.', code: 'entity_not_found' });
    const sessions = [...state.sessions.values()].filter((s) => s.userId === userId);
    const result = listPage(sessions, req.query as Record<string, unknown>);
    if (typeof result === 'string')
      return void res.status(422).json({
        code: 'invalid_request_parameters',
        message: `Validation failed: ${result}`,
        errors: [{ field: 'query', code: 'invalid', message: result }],
      });
    const now = Date.now();
    res.json({
      object: 'list',
      data: result.page.map((s) => sessionJson(s, now)),
      list_metadata: { before: result.before, after: result.after },
    });
  });

  router.post('/user_management/sessions/revoke', auth, express.json({ limit: '16kb' }), (req, res) => {
    const b = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
    if (state.sessionRevocation === 'fails') {
      ctx.opts.log('session revocation → 500 (injected)');
      return void res.status(500).json({ message: 'Injected fault: session revocation failed' });
    }
    const sessionId = b.session_id;
    if (typeof sessionId !== 'string' || !sessionId) {
      const { status, body } = invalid([
        { field: 'session_id', code: 'required', message: 'must be a non-empty string' },
      ]);
      return void res.status(status).json(body);
    }
    const session = state.sessions.get(sessionId);
    if (!session)
      return void res.status(404).json({ message: 'Session not found.', code: 'entity_not_found' });
    const now = Date.now();
    if (state.sessionRevocation === 'ignored') {
      // Says it ended the session; the session and its refresh tokens live on.
      ctx.opts.log(`session ${sessionId} revocation ignored (injected)`);
      return void res.json(
        sessionJson({ ...session, status: 'revoked', endedAt: session.endedAt ?? now, updatedAt: now }, now),
      );
    }
    state.revokeSession(sessionId, now);
    ctx.opts.log(`session ${sessionId} revoked`);
    res.json(sessionJson(session, now));
  });

  router.get('/user_management/users/:id', auth, (req, res) => {
    const user = state.users.get(String(req.params.id));
    if (!user) return void res.status(404).json({ message: 'User not found.', code: 'entity_not_found' });
    res.json(userJson(user));
  });

  return router;
}
