import { escapeHtml as e, renderPage } from '../common/html';
import type { LegacyUser } from '../legacy-session/legacy-user';
import { LOGIN_FAILURES, RESTART_HINT, type LoginFailureCode } from './login-failures';

/** Routes the pages' forms and links point at (relative to the bridge's origin). */
export const LOGIN_ROUTES = {
  start: '/auth/login',
  resume: '/auth/login/resume',
  confirm: '/auth/login/confirm',
  connect: '/auth/login/connect',
  local: '/auth/login/local',
  retry: '/auth/login/retry',
} as const;

export interface FormContext {
  txId: string;
  csrf: string;
  /** Where the person's account lives (PUBLIC_URL's host), named on every page that asks. */
  appHost?: string;
}

const hidden = (f: FormContext) =>
  `<input type="hidden" name="tx" value="${e(f.txId)}"><input type="hidden" name="csrf" value="${e(f.csrf)}">`;

export const resumePath = (txId: string): string => `${LOGIN_ROUTES.resume}?tx=${encodeURIComponent(txId)}`;

const displayName = (u: LegacyUser) => [u.firstName, u.lastName].filter(Boolean).join(' ');

/** The sentence every page of a flow starts with: what is happening, and where. */
const asking = (f: FormContext) =>
  `An AI application is asking to connect to your account${f.appHost ? ` at <strong>${e(f.appHost)}</strong>` : ''}.`;

const cancelButton = '<button type="submit" name="action" value="cancel" class="secondary">Cancel</button>';

/**
 * Before a signed-out person is sent to the legacy login (LOGIN_CONFIRM_CONNECT): what is
 * happening, with Continue and Cancel. Someone else can start a flow and send the link.
 */
export function connectPage(form: FormContext): string {
  return renderPage({
    title: 'Connect an AI application?',
    body: `<p>${asking(form)} If you continue, you will sign in and the application will be able to act as you.</p>
<p>Continue only if you started this yourself, from an AI application you trust. If you did not, cancel: someone may have sent you this link to get into your account.</p>
<form method="post" action="${LOGIN_ROUTES.connect}">
${hidden(form)}
<button type="submit" name="action" value="continue">Continue</button>
${cancelButton}
</form>`,
  });
}

/** The email and password fields and the Sign in button of every password form (focus where it helps). */
export function emailPasswordFields(email?: string): string {
  return `<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required maxlength="320" value="${e(email ?? '')}"${email ? '' : ' autofocus'}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024"${email ? ' autofocus' : ''}>
<button type="submit">Sign in</button>`;
}

export function signInPage(
  form: FormContext,
  options: { email?: string; error?: string; notice?: string } = {},
): string {
  return renderPage({
    title: 'Sign in to continue',
    body: `<p>${asking(form)} Sign in to continue, only if you started this yourself.</p>
${options.notice ? `<p>${e(options.notice)}</p>` : ''}${options.error ? `<p class="error" role="alert" id="form-error">${e(options.error)}</p>` : ''}
<form method="post" action="${LOGIN_ROUTES.local}"${options.error ? ' aria-describedby="form-error"' : ''}>
${hidden(form)}
${emailPasswordFields(options.email)}
</form>
<form method="post" action="${LOGIN_ROUTES.connect}">
${hidden(form)}
${cancelButton}
</form>`,
  });
}

export function confirmPage(form: FormContext, user: LegacyUser, options: { notice?: string } = {}): string {
  const name = displayName(user);
  return renderPage({
    title: 'Continue with this account?',
    body: `<p>${asking(form)}</p>
${options.notice ? `<p>${e(options.notice)}</p>` : ''}<p>You are signed in as <strong>${e(name || user.email)}</strong>${name ? ` (${e(user.email)})` : ''}.</p>
<form method="post" action="${LOGIN_ROUTES.confirm}">
${hidden(form)}
<input type="hidden" name="user" value="${e(user.id)}">
<button type="submit" name="action" value="continue">Continue as ${e(user.email)}</button>
<button type="submit" name="action" value="switch" class="secondary">Use another account</button>
${cancelButton}
</form>`,
  });
}

export interface FailureActions {
  /** A POST form that retries the completion (AuthKit did not answer). */
  retry?: FormContext;
  /** A link that resumes the transaction (the legacy app did not answer, a stale form, …). */
  resumeTxId?: string;
  resumeLabel?: string;
}

export function failurePage(code: LoginFailureCode, actions: FailureActions = {}, detail?: string): string {
  const info = LOGIN_FAILURES[code];
  const parts = [`<p>${e(info.message)}</p>`];
  if (detail) parts.push(`<p>${e(detail)}</p>`);
  if ('restart' in info && info.restart) parts.push(`<p>${e(RESTART_HINT)}</p>`);
  if (actions.retry) {
    parts.push(
      `<form method="post" action="${LOGIN_ROUTES.retry}">${hidden(actions.retry)}<button type="submit">Try again</button></form>`,
    );
  } else if (actions.resumeTxId) {
    parts.push(
      `<p><a class="button" href="${e(resumePath(actions.resumeTxId))}">${e(actions.resumeLabel ?? 'Try again')}</a></p>`,
    );
  }
  parts.push(`<p><small>Error code: <code>${e(code)}</code></small></p>`);
  return renderPage({ title: info.title, body: parts.join('\n') });
}
