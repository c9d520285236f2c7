import type { JwtCookieService } from '../jwt-cookie.service';
import { SessionLookupStrategy } from './session-lookup.strategy';

/** `jwt-cookie`: the legacy session is a signed JWT in a cookie. */
export class JwtCookieStrategy extends SessionLookupStrategy {
  constructor(jwt: JwtCookieService) {
    super((req) => jwt.verify(req.headers.cookie));
  }
}
