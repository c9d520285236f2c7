import { BRIDGE_SESSION_COOKIE } from '../../sessions/bridge-session.service';
import type { LocalLoginService } from '../local-login.service';
import { SessionLookupStrategy } from './session-lookup.strategy';

/** `local`: the browser's session with the bridge itself (signed cookie, row in the database). */
export class BridgeSessionStrategy extends SessionLookupStrategy {
  constructor(login: LocalLoginService) {
    super((req) =>
      login.sessionUser((req.signedCookies as Record<string, unknown>)?.[BRIDGE_SESSION_COOKIE]),
    );
  }
}
