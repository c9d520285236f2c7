import type { Request } from 'express';
import CustomStrategy from 'passport-custom';
import type { LegacyUser } from '../legacy-user';

/** Name under which the configured "is this browser signed in?" strategy is registered. */
export const LEGACY_SESSION_STRATEGY = 'legacy-session';

/**
 * Base of the three session strategies: a thin Passport strategy around one lookup that
 * answers a user (signed in), null (not signed in) or throws (the legacy app is unavailable).
 */
export abstract class SessionLookupStrategy extends CustomStrategy {
  constructor(lookup: (req: Request) => Promise<LegacyUser | null>) {
    super((req, done) => {
      lookup(req).then((user) => done(null, user ?? false), done);
    });
  }
}
