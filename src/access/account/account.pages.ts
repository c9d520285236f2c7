import { escapeHtml as e, renderPage } from '../../common/html';
import type { LegacyUser } from '../../legacy-session/legacy-user';
import type { GrantView } from '../grants.service';
import { emailPasswordFields } from '../../login/login.pages';

/** Routes of the person's page (relative to the bridge's origin). */
export const ACCOUNT_ROUTES = {
  connections: '/account/connections',
  signIn: '/account/sign-in',
  signOut: '/account/sign-out',
  /** `local`: reads the bridge session of the Login URI (cookie path /auth) for this page. */
  session: '/auth/account-session',
  docs: '/docs/mcp',
} as const;

export const revokePath = (grantId: string): string =>
  `${ACCOUNT_ROUTES.connections}/${encodeURIComponent(grantId)}/revoke`;

/** What a scope lets an application do, in words (unknown scopes are shown as they are). */
const SCOPE_WORDS: Record<string, string> = {
  openid: 'Know which account is yours',
  profile: 'See your name',
  email: 'See your email address',
  offline_access: 'Stay connected without asking you again',
};

const MUTED = 'font-size:.9em';
/** Long words (client ids, URLs, names, emails) wrap anywhere: no sideways scroll on a phone. */
const WRAP = 'overflow-wrap:anywhere';

/**
 * A name a person recognises: the client's own name (its CIMD `client_name`); for a URL client
 * id, its host; for an id made of words (`demo_client`), those words; else "Application <id>".
 */
export function applicationName(grant: Pick<GrantView, 'clientId' | 'clientName'>): string {
  if (grant.clientName) return grant.clientName;
  const id = grant.clientId;
  if (/^https?:\/\//i.test(id)) {
    try {
      const host = new URL(id).hostname.replace(/^www\./, '');
      if (host) return host;
    } catch {
      // not a URL after all: fall through
    }
  }
  const words = id.split(/[_\-.\s]+/).filter(Boolean);
  if (words.length && id.length <= 60 && words.every((w) => /^[A-Za-z]+$/.test(w))) {
    const text = words.join(' ').toLowerCase();
    return text[0].toUpperCase() + text.slice(1);
  }
  const chars = Array.from(id);
  return `Application ${chars.length > 24 ? `${chars.slice(0, 24).join('')}…` : id}`;
}

const DATE = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'long',
  year: 'numeric',
  timeZone: 'UTC',
});

/** "12 March 2026" (UTC: the server does not know the reader's time zone). */
export const formatDate = (d: Date): string => DATE.format(d);

/** "just now", "5 minutes ago", "3 hours ago", "yesterday", "4 days ago", then the date. */
export function relativeTime(d: Date, now = new Date()): string {
  const seconds = Math.max(0, Math.round((now.getTime() - d.getTime()) / 1000));
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'} ago`;
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return plural(Math.floor(seconds / 60), 'minute');
  if (seconds < 86_400) return plural(Math.floor(seconds / 3600), 'hour');
  const days = Math.floor(seconds / 86_400);
  if (days === 1) return 'yesterday';
  if (days < 7) return plural(days, 'day');
  return formatDate(d);
}

const time = (d: Date, text: string) =>
  `<time datetime="${e(d.toISOString())}" title="${e(d.toISOString().replace('T', ' ').slice(0, 16))} UTC">${e(text)}</time>`;

const csrfField = (csrf: string) => `<input type="hidden" name="csrf" value="${e(csrf)}">`;

const displayName = (u: LegacyUser) => [u.firstName, u.lastName].filter(Boolean).join(' ');

/** A message at the top of the page: a confirmation (status) or a problem (alert). */
export interface Banner {
  kind: 'ok' | 'error';
  text: string;
}

function banner(b?: Banner): string {
  if (!b) return '';
  if (b.kind === 'error') return `<p class="error" role="alert">${e(b.text)}</p>`;
  return `<p role="status" style="color:#166534;background:color-mix(in srgb,#16a34a 12%,transparent);padding:.5rem .75rem;border-radius:6px">${e(b.text)}</p>`;
}

function scopeList(scopes: string[]): string {
  if (!scopes.length) return '<p>No particular permissions.</p>';
  const items = scopes.map((s) =>
    SCOPE_WORDS[s]
      ? `<li>${e(SCOPE_WORDS[s])} <small>(<code>${e(s)}</code>)</small></li>`
      : `<li><code>${e(s)}</code></li>`,
  );
  return `<ul style="margin:.25rem 0 .5rem;padding-left:1.25rem">${items.join('')}</ul>`;
}

function connection(grant: GrantView, csrf: string, now: Date): string {
  const name = applicationName(grant);
  return `<li style="border-top:1px solid color-mix(in srgb,CanvasText 20%,transparent);padding:1rem 0">
<h3 style="margin:0;font-size:1.1rem">${e(name)}</h3>
<p style="margin:.1rem 0 .5rem;${MUTED}">Client ID: <code>${e(grant.clientId)}</code></p>
<p style="margin:.25rem 0 0">It can:</p>
${scopeList(grant.scopes)}
<p style="margin:.25rem 0;${MUTED}">Connected ${time(grant.createdAt, formatDate(grant.createdAt))} · Last used ${time(grant.lastUsedAt, relativeTime(grant.lastUsedAt, now))}</p>
<form method="post" action="${e(revokePath(grant.id))}" style="margin:0">
${csrfField(csrf)}
<button type="submit" aria-label="Revoke ${e(name)}" style="margin-top:.5rem">Revoke</button>
</form>
</li>`;
}

export interface ConnectionsPageOptions {
  user: LegacyUser;
  grants: GrantView[];
  /** The CSRF token of this browser's forms. */
  csrf: string;
  mcpUrl: string;
  /** `local`: a sign-out button; otherwise a note (and the legacy app's logout link, if any). */
  signOut: { kind: 'local' } | { kind: 'legacy'; logoutUrl?: string };
  banner?: Banner;
  now?: Date;
}

/** GET /account/connections, signed in: the AI applications that can act as this person. */
export function connectionsPage(o: ConnectionsPageOptions): string {
  const name = displayName(o.user);
  const now = o.now ?? new Date();
  const who = `<p>Signed in as <strong>${e(name || o.user.email)}</strong>${name ? ` <span>(${e(o.user.email)})</span>` : ''}.</p>`;
  const list = o.grants.length
    ? `<p>These AI applications can act as you through <code>${e(o.mcpUrl)}</code>. Revoke any you no longer use or do not recognise: it loses its access at once, and would have to ask you to sign in again to come back.</p>
<h2>Connected (${o.grants.length})</h2>
<ul style="list-style:none;margin:0;padding:0">
${o.grants.map((g) => connection(g, o.csrf, now)).join('\n')}
</ul>`
    : `<h2>No AI application is connected</h2>
<p>No AI application can act as you right now.</p>
<p>An application gets connected when you add <code>${e(o.mcpUrl)}</code> to an AI application (an MCP client) and sign in when it asks you to. It then appears here, and you can revoke it at any time.</p>
<p><a href="${ACCOUNT_ROUTES.docs}">How to connect an AI application</a></p>`;
  const signOut =
    o.signOut.kind === 'local'
      ? `<h2>Signing out</h2>
<p>On a shared computer, sign out when you are done, so that the next person is not offered to continue as you.</p>
<form method="post" action="${ACCOUNT_ROUTES.signOut}">
${csrfField(o.csrf)}
<button type="submit" class="secondary">Sign out</button>
</form>`
      : `<h2>Signing out</h2>
<p>You are signed in through your usual account; signing out happens there${
          o.signOut.logoutUrl ? `: <a href="${e(o.signOut.logoutUrl)}">sign out of your account</a>` : ''
        }.</p>`;
  return renderPage({
    title: 'Connected AI applications',
    wide: true,
    body: `<div style="${WRAP}">
${who}
${banner(o.banner)}
${list}
${signOut}
</div>`,
  });
}

/** GET /account/connections, `local` strategy, nobody signed in (or a failed attempt). */
export function accountSignInPage(
  csrf: string,
  options: { email?: string; error?: string; notice?: string } = {},
): string {
  return renderPage({
    title: 'Sign in to see your connections',
    body: `<p>Sign in to see the AI applications connected to your account, and revoke the ones you no longer want.</p>
${options.notice ? `<p role="status">${e(options.notice)}</p>` : ''}${options.error ? `<p class="error" role="alert" id="form-error">${e(options.error)}</p>` : ''}
<form method="post" action="${ACCOUNT_ROUTES.signIn}"${options.error ? ' aria-describedby="form-error"' : ''}>
${csrfField(csrf)}
${emailPasswordFields(options.email)}
</form>`,
  });
}

/** A page that explains a problem, with a link back to the connections page. */
export function accountProblemPage(title: string, message: string, linkLabel = 'Try again'): string {
  return renderPage({
    title,
    body: `<p>${e(message)}</p>
<p><a class="button" href="${ACCOUNT_ROUTES.connections}">${e(linkLabel)}</a></p>`,
  });
}
