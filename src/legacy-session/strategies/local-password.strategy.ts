import type { Request } from 'express';
import { Strategy } from 'passport-local';
import type { LocalLoginService } from '../local-login.service';

export const LOCAL_PASSWORD_STRATEGY = 'legacy-local';

/** The built-in sign-in form (`local`): email + password, decided by LocalLoginService. */
export class LocalPasswordStrategy extends Strategy {
  constructor(login: LocalLoginService) {
    super(
      { usernameField: 'email', passwordField: 'password', passReqToCallback: true },
      (req: Request, email, password, done) => {
        login.attempt(email, password, req.ip).then(
          (result) =>
            result.ok ? done(null, result.user) : done(null, false, { message: result.code, ...result }),
          (err: unknown) => done(err),
        );
      },
    );
  }
}
