import type { SessionIntrospectionService } from '../session-introspection.service';
import { SessionLookupStrategy } from './session-lookup.strategy';

/** `session-introspection`: the legacy app answers for the browser's cookies. */
export class SessionIntrospectionStrategy extends SessionLookupStrategy {
  constructor(introspection: SessionIntrospectionService) {
    super((req) => introspection.introspect(req.headers.cookie));
  }
}
