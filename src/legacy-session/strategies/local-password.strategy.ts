import type { Request } from 'express';
import { Strategy } from 'passport-local';
import { DEVICE_COOKIE } from '../device-cookie';
import type { LocalLoginService } from '../local-login.service';
import { SignInBusyError } from '../sign-in-capacity';

export const LOCAL_PASSWORD_STRATEGY = 'legacy-local';

/**
 * The built-in sign-in form (`local`): email + password, decided by LocalLoginService. A success
 * renews this browser's device cookie; "busy" is thrown on (a 429 with Retry-After).
 */
export class LocalPasswordStrategy extends Strategy {
  constructor(login: LocalLoginService) {
    super(
      { usernameField: 'email', passwordField: 'password', passReqToCallback: true },
      (req: Request, email, password, done) => {
        const signed = req.signedCookies as Record<string, unknown> | undefined;
        login.attempt(email, password, { ip: req.ip, device: signed?.[DEVICE_COOKIE] }).then(
          (result) => {
            if (!result.ok) return done(null, false, { message: result.code, ...result });
            if (result.device && req.res) login.devices.write(req.res, result.device);
            done(null, result.user);
          },
          (err: unknown) => {
            if (err instanceof SignInBusyError && req.res && !req.res.headersSent) {
              req.res.setHeader('Retry-After', String(err.retryAfterSeconds));
            }
            done(err);
          },
        );
      },
    );
  }
}
