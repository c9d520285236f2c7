import { DomainError } from '../common/errors';

/** The legacy app (or its key set) did not answer usefully: nothing can be decided. */
export class LegacyUnavailableError extends DomainError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super('legacy_unavailable', `The sign-in service did not answer usefully: ${detail}`, 503, options);
  }
}

/** The legacy app vouched for a user the bridge cannot hand to AuthKit (no id, bad email, …). */
export class LegacyInvalidUserError extends DomainError {
  constructor(readonly problems: string[]) {
    super(
      'legacy_invalid_user',
      `The sign-in service described the user unusably: ${problems.join('; ')}`,
      502,
    );
  }
}
