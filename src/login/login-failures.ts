/**
 * Every way a pass through the Login URI can end badly, with the page a person sees. Codes
 * are stable: they appear in audit rows (error_code), logs and tests.
 */
export interface FailureInfo {
  status: number;
  title: string;
  message: string;
  /** Nothing here can continue this authorization: the person starts again in the AI client. */
  restart?: boolean;
}

const RESTART = 'Go back to the AI application you were connecting and start the connection again.';

export const LOGIN_FAILURES = {
  invalid_external_auth_id: {
    status: 400,
    title: 'This sign-in link is not valid',
    message: 'The link that brought you here is incomplete or damaged.',
    restart: true,
  },
  login_transaction_invalid: {
    status: 403,
    title: 'This sign-in cannot continue here',
    message:
      'It was started in another browser or window, or this browser did not keep our cookie. For your safety a sign-in can only be finished in the browser that started it.',
    restart: true,
  },
  login_transaction_expired: {
    status: 410,
    title: 'This sign-in has expired',
    message: 'Too much time passed since it started.',
    restart: true,
  },
  login_already_completed: {
    status: 409,
    title: 'This sign-in is already complete',
    message: 'This link was already used to connect an application; it cannot be used twice.',
    restart: true,
  },
  rate_limited: {
    status: 429,
    title: 'Too many sign-ins',
    message:
      'Too many sign-ins were started from your network in a short time. Wait a few minutes before you try again.',
    restart: true,
  },
  connect_cancelled: {
    // Not an error: the person said no. The AI application hears nothing; its request expires.
    status: 200,
    title: 'Nothing was connected',
    message: 'You cancelled, so no AI application was connected to your account. You can close this window.',
  },
  csrf_failed: {
    status: 403,
    title: 'This form has expired',
    message: 'The form you sent does not belong to this sign-in. Reload the page and try again.',
  },
  completion_in_progress: {
    status: 409,
    title: 'Your sign-in is being finished',
    message: 'Another request is finishing this sign-in right now. Wait a moment, then reload this page.',
  },
  external_auth_expired: {
    status: 410,
    title: 'This sign-in link is not valid or has expired',
    message:
      'AuthKit does not recognise this sign-in request: the link may have been cut short or made up, or it timed out.',
    restart: true,
  },
  external_auth_session_already_completed: {
    status: 409,
    title: 'This sign-in was already completed',
    message: 'AuthKit reports that this sign-in request was already finished.',
    restart: true,
  },
  email_not_available: {
    status: 409,
    title: 'Your email address is already in use',
    message:
      'Another account already uses the email address of your account, so this one cannot be connected. Ask your administrator for help.',
  },
  email_change_not_allowed: {
    status: 409,
    title: 'Your email address cannot be changed here',
    message:
      'The email address of your account differs from the one AuthKit has on record, and it cannot be changed this way. Ask your administrator for help.',
  },
  invalid_email: {
    status: 400,
    title: 'Your email address was not accepted',
    message: 'AuthKit did not accept the email address of your account. Ask your administrator for help.',
  },
  authkit_rejected: {
    status: 502,
    title: 'AuthKit refused this sign-in',
    message: 'The sign-in could not be completed. It has been logged; ask your administrator for help.',
    restart: true,
  },
  authkit_unavailable: {
    status: 503,
    title: 'AuthKit did not answer',
    message: 'Your account is fine, but the sign-in could not be finished just now. Try again in a moment.',
  },
  authkit_misconfigured: {
    status: 503,
    title: 'Sign-in is not available',
    message:
      'This service is not set up correctly to finish sign-ins. It has been logged; ask your administrator.',
  },
  redirect_rejected: {
    status: 502,
    title: 'AuthKit sent an unexpected answer',
    message: 'For your safety the sign-in was stopped. It has been logged; ask your administrator for help.',
    restart: true,
  },
  legacy_unavailable: {
    status: 503,
    title: 'The sign-in service is unavailable',
    message:
      'We could not check whether you are signed in, because the sign-in service did not answer. Try again in a moment.',
  },
  legacy_invalid_user: {
    status: 502,
    title: 'Your account cannot be used here',
    message:
      'The sign-in service described your account without the details needed (an id and a valid email address). Ask your administrator for help.',
  },
  legacy_session_not_found: {
    status: 400,
    title: 'We could not see your sign-in',
    message:
      'You were sent to sign in several times, but no signed-in session came back. Your browser may be blocking cookies, or the sign-in service is on a domain this service cannot see.',
    restart: true,
  },
  user_disabled: {
    status: 403,
    title: 'This account is disabled',
    message: 'Your account has been disabled, so it cannot be connected. Ask your administrator for help.',
  },
} satisfies Record<string, FailureInfo>;

export type LoginFailureCode = keyof typeof LOGIN_FAILURES;

export const RESTART_HINT = RESTART;
