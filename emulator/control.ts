import express, { type Router } from 'express';
import { requireApiKey, sessionJson, userJson } from './api';
import type { Ctx } from './context';
import type { KeyChoice } from './keys';
import type { CompletionFault, SessionRevocationMode } from './state';

/** What the programmatic surface and the HTTP test-control routes share. */
export interface Controls {
  mintAccessToken(
    claims?: Record<string, unknown>,
    opts?: { alg?: string; kid?: string; expiresInSeconds?: number; key?: KeyChoice },
  ): Promise<string>;
  rotateKeys(opts?: { graceSeconds?: number }): Promise<void>;
  expireExternalAuth(externalAuthId: string): void;
  injectCompletionFault(fault: CompletionFault): void;
  /** How POST /user_management/sessions/revoke behaves until changed (clearFaults: 'works'). */
  setSessionRevocation(mode: SessionRevocationMode): void;
  clearFaults(): void;
}

const REVOCATION_MODES: readonly SessionRevocationMode[] = ['works', 'fails', 'ignored'];

/**
 * `/__emulator/*`: the test-control surface (only when enableTestControl; API key required).
 *   POST   /__emulator/tokens                     {claims?, alg?, kid?, expiresInSeconds?, key?} → {access_token}
 *   POST   /__emulator/keys/rotate                {graceSeconds?} → the new JWKS
 *   POST   /__emulator/external-auth/:id/expire   → 204 (404 when unknown)
 *   POST   /__emulator/faults/completion          {status?, body?, delayMs?, times?, resetConnection?, afterCommit?} → 204
 *   POST   /__emulator/faults/session-revocation  {mode: 'works'|'fails'|'ignored'} → 204 (400 otherwise)
 *   DELETE /__emulator/faults                     → 204 (also sets session revocation back to 'works')
 *   GET    /__emulator/completion-calls           → [{externalAuthId, userId, at, status, idempotencyKey?}]
 *   GET    /__emulator/users                      → [WorkOS user objects]
 *   GET    /__emulator/sessions                   → [WorkOS session objects, plus client_id]
 */
export function controlRouter(ctx: Ctx, controls: Controls): Router {
  const router = express.Router();
  router.use('/__emulator', requireApiKey(ctx), express.json({ limit: '64kb' }));
  const body = (b: unknown) => (b && typeof b === 'object' ? b : {}) as Record<string, unknown>;

  router.post('/__emulator/tokens', async (req, res) => {
    const b = body(req.body);
    try {
      const token = await controls.mintAccessToken(b.claims as Record<string, unknown> | undefined, {
        alg: b.alg as string | undefined,
        kid: b.kid as string | undefined,
        expiresInSeconds: b.expiresInSeconds as number | undefined,
        key: b.key as KeyChoice | undefined,
      });
      res.json({ access_token: token });
    } catch (err) {
      res.status(400).json({ message: err instanceof Error ? err.message : String(err) });
    }
  });
  router.post('/__emulator/keys/rotate', async (req, res) => {
    const grace = body(req.body).graceSeconds;
    await controls.rotateKeys({ graceSeconds: typeof grace === 'number' ? grace : undefined });
    res.json(ctx.keys.jwks());
  });
  router.post('/__emulator/external-auth/:id/expire', (req, res) => {
    if (!ctx.state.pending.has(req.params.id))
      return void res.status(404).json({ message: 'unknown external_auth_id' });
    controls.expireExternalAuth(req.params.id);
    res.status(204).end();
  });
  router.post('/__emulator/faults/completion', (req, res) => {
    controls.injectCompletionFault(body(req.body) as CompletionFault);
    res.status(204).end();
  });
  router.post('/__emulator/faults/session-revocation', (req, res) => {
    const mode = body(req.body).mode as SessionRevocationMode;
    if (!REVOCATION_MODES.includes(mode))
      return void res.status(400).json({ message: `mode must be one of ${REVOCATION_MODES.join(', ')}` });
    controls.setSessionRevocation(mode);
    res.status(204).end();
  });
  router.delete('/__emulator/faults', (_req, res) => {
    controls.clearFaults();
    res.status(204).end();
  });
  router.get('/__emulator/completion-calls', (_req, res) => {
    res.json(ctx.state.completionCalls);
  });
  router.get('/__emulator/users', (_req, res) => {
    res.json([...ctx.state.users.values()].map(userJson));
  });
  router.get('/__emulator/sessions', (_req, res) => {
    res.json([...ctx.state.sessions.values()].map((s) => ({ ...sessionJson(s), client_id: s.clientId })));
  });
  return router;
}
