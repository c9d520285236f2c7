import passport from 'passport';
import type { AppConfig } from '../config/app-config';
import { JwtCookieService } from './jwt-cookie.service';
import type { LocalLoginService } from './local-login.service';
import { SessionIntrospectionService } from './session-introspection.service';
import { BridgeSessionStrategy } from './strategies/bridge-session.strategy';
import { JwtCookieStrategy } from './strategies/jwt-cookie.strategy';
import { LOCAL_PASSWORD_STRATEGY, LocalPasswordStrategy } from './strategies/local-password.strategy';
import { SessionIntrospectionStrategy } from './strategies/session-introspection.strategy';
import { LEGACY_SESSION_STRATEGY } from './strategies/session-lookup.strategy';

/** Builds this app's Passport instance with the strategy LEGACY_AUTH_STRATEGY names. */
export function buildLegacyPassport(
  config: AppConfig,
  localLogin: LocalLoginService,
): passport.Authenticator {
  const instance = new passport.Authenticator();
  const legacy = config.legacy;
  switch (legacy.strategy) {
    case 'local':
      instance.use(LEGACY_SESSION_STRATEGY, new BridgeSessionStrategy(localLogin));
      instance.use(LOCAL_PASSWORD_STRATEGY, new LocalPasswordStrategy(localLogin));
      break;
    case 'session-introspection':
      instance.use(
        LEGACY_SESSION_STRATEGY,
        new SessionIntrospectionStrategy(
          new SessionIntrospectionService({
            sessionUrl: legacy.sessionUrl!,
            cookieNames: legacy.cookieNames,
            timeoutMs: legacy.timeoutMs,
          }),
        ),
      );
      break;
    case 'jwt-cookie':
      instance.use(
        LEGACY_SESSION_STRATEGY,
        new JwtCookieStrategy(new JwtCookieService({ ...legacy.jwt, timeoutMs: legacy.timeoutMs })),
      );
      break;
  }
  return instance;
}
