import type { LegacyUser } from '../legacy-session/legacy-user';

/** After this many trips to the legacy login without a session coming back, stop looping. */
export const MAX_LEGACY_REDIRECTS = 3;

export type NextStep =
  /** Signed in and approved for this flow: complete it. */
  | 'complete'
  /** Signed in from before this flow: ask "Continue as … / Use another account". */
  | 'confirm'
  /** Not signed in, not yet told: "An AI application is asking to connect" (Continue / Cancel). */
  | 'connect'
  /** Not signed in: the legacy login (or the local form). */
  | 'sign-in'
  /** Sent to the legacy login too often without a session coming back (cookies not shared?). */
  | 'sign-in-loop';

export interface TransactionFacts {
  /** The user approved for this flow (accepted on the confirm step or freshly signed in). */
  legacyUserId: string | null;
  /** When the browser was sent to sign in during this flow. */
  loginRedirectAt: Date | null;
  declinedUserId: string | null;
  legacyRedirects: number;
}

/**
 * What to do with a browser in a login transaction, given who (if anyone) the legacy app says
 * is signed in. A session made during this flow completes at once; a session from before it
 * needs the person's "Continue as" (a stray link must not silently authorize an account),
 * and so does the very account they just turned down. With `askFirst`, a browser nobody is
 * signed in on is told what is happening before it is sent to sign in, once per flow (the
 * Continue sets loginRedirectAt): a link someone else started does not end, after an ordinary
 * sign-in, in a connection the person never saw a word about.
 */
export function nextStep(
  tx: TransactionFacts,
  user: LegacyUser | null,
  canLoop: boolean,
  askFirst = false,
): NextStep {
  if (!user) {
    if (canLoop && tx.legacyRedirects >= MAX_LEGACY_REDIRECTS) return 'sign-in-loop';
    return askFirst && !tx.loginRedirectAt ? 'connect' : 'sign-in';
  }
  if (tx.legacyUserId !== null && user.id === tx.legacyUserId) return 'complete';
  if (tx.loginRedirectAt && user.id !== tx.declinedUserId) return 'complete';
  return 'confirm';
}
