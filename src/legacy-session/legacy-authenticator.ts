import { Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import type passport from 'passport';
import type { AppConfig, LegacyStrategyName } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import type { LegacyUser } from './legacy-user';
import type { LoginAttempt } from './local-login.service';
import { LOCAL_PASSWORD_STRATEGY } from './strategies/local-password.strategy';
import { LEGACY_SESSION_STRATEGY } from './strategies/session-lookup.strategy';

/** This app's own Passport instance (never the process-wide singleton: tests run several apps). */
export const LEGACY_PASSPORT = Symbol('LEGACY_PASSPORT');

interface PassportOutcome {
  user: LegacyUser | false;
  info?: unknown;
}

/**
 * Runs the configured Passport strategies for the login flow: "is this browser signed in to
 * the legacy app?" and, for `local`, the sign-in form. Errors (the legacy app unavailable)
 * propagate as thrown; "not signed in" is null.
 */
@Injectable()
export class LegacyAuthenticator {
  constructor(
    @Inject(LEGACY_PASSPORT) private readonly passport: passport.Authenticator,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  get strategy(): LegacyStrategyName {
    return this.config.legacy.strategy;
  }

  async currentUser(req: Request, res: Response): Promise<LegacyUser | null> {
    const { user } = await this.run(LEGACY_SESSION_STRATEGY, req, res);
    return user || null;
  }

  /** The `local` sign-in form's submission (email, password in the body). */
  async passwordSignIn(req: Request, res: Response): Promise<LoginAttempt> {
    const { user, info } = await this.run(LOCAL_PASSWORD_STRATEGY, req, res);
    if (user) return { ok: true, user };
    const failure = (info ?? {}) as Partial<Extract<LoginAttempt, { ok: false }>>;
    return {
      ok: false,
      code: failure.code ?? 'invalid_credentials',
      ...(failure.userId ? { userId: failure.userId } : {}),
      ...(failure.retryAfterSeconds ? { retryAfterSeconds: failure.retryAfterSeconds } : {}),
    };
  }

  private run(name: string, req: Request, res: Response): Promise<PassportOutcome> {
    return new Promise((resolve, reject) => {
      const middleware = this.passport.authenticate(
        name,
        { session: false },
        (err: unknown, user: LegacyUser | false, info: unknown) =>
          err ? reject(err) : resolve({ user, info }),
      ) as (req: Request, res: Response, next: (err?: unknown) => void) => void;
      middleware(req, res, (err?: unknown) => (err ? reject(err) : resolve({ user: false })));
    });
  }
}
