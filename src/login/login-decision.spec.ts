import { MAX_LEGACY_REDIRECTS, nextStep, type TransactionFacts } from './login-decision';

const fresh: TransactionFacts = {
  legacyUserId: null,
  loginRedirectAt: null,
  declinedUserId: null,
  legacyRedirects: 0,
};
const alice = { id: 'alice', email: 'alice@example.com' };
const bob = { id: 'bob', email: 'bob@example.com' };
const sentToLogin = { ...fresh, loginRedirectAt: new Date(), legacyRedirects: 1 };

describe('nextStep', () => {
  it.each<[string, TransactionFacts, typeof alice | null, boolean, string]>([
    ['nobody signed in', fresh, null, true, 'sign-in'],
    ['a session from before the flow', fresh, alice, true, 'confirm'],
    ['a session made after being sent to sign in', sentToLogin, alice, true, 'complete'],
    ['the approved user', { ...fresh, legacyUserId: 'alice' }, alice, true, 'complete'],
    ['another user than the approved one', { ...fresh, legacyUserId: 'alice' }, bob, true, 'confirm'],
    [
      'the declined user back from the login',
      { ...sentToLogin, declinedUserId: 'alice' },
      alice,
      true,
      'confirm',
    ],
    ['another user after declining', { ...sentToLogin, declinedUserId: 'alice' }, bob, true, 'complete'],
    [
      'nobody after too many trips',
      { ...sentToLogin, legacyRedirects: MAX_LEGACY_REDIRECTS },
      null,
      true,
      'sign-in-loop',
    ],
    ['nobody after many local form views', { ...sentToLogin, legacyRedirects: 99 }, null, false, 'sign-in'],
  ])('%s → %s', (_what, tx, user, canLoop, expected) => {
    expect(nextStep(tx, user, canLoop)).toBe(expected);
  });

  it.each<[string, TransactionFacts, typeof alice | null, string]>([
    ['nobody signed in, not yet told', fresh, null, 'connect'],
    ['nobody signed in after Continue (back from the login)', sentToLogin, null, 'sign-in'],
    ['a session from before the flow ("Continue as" says it all)', fresh, alice, 'confirm'],
    ['a session made after Continue', sentToLogin, alice, 'complete'],
    [
      'nobody after too many trips',
      { ...sentToLogin, legacyRedirects: MAX_LEGACY_REDIRECTS },
      null,
      'sign-in-loop',
    ],
  ])('asking first (LOGIN_CONFIRM_CONNECT): %s → %s', (_what, tx, user, expected) => {
    expect(nextStep(tx, user, true, true)).toBe(expected);
  });
});
