import { escapeHtml, renderPage } from '../common/html';
import type { DemoUserAction, DemoUserView } from './demo-user-controls.service';

/** What the demo's pages show about this running demo. */
export interface DemoInfo {
  /** The bridge's PUBLIC_URL. */
  publicUrl: string;
  /** `$PUBLIC_URL/mcp`. */
  mcpUrl: string;
  /** The embedded AuthKit emulator's issuer. */
  authkitUrl: string;
  /** The pre-registered public client the walk-through uses. */
  clientId: string;
  /** `$PUBLIC_URL/demo/callback`, one of that client's redirect URIs. */
  callbackUrl: string;
  demoEmail: string;
  /** The legacy strategy in use (the demo's built-in form is `local`). */
  strategy: string;
}

/** The copy-paste command that runs the demo's SDK client (compiled by `npm start`). */
export const demoClientCommand = (mcpUrl: string): string => `node dist/src/demo/mcp-client.js ${mcpUrl}`;

const LANES = ['MCP client', 'AuthKit', 'connect-bridge', 'Your sign-in'] as const;
type Lane = 0 | 1 | 2 | 3;
/** The sequence of the flow: from lane, to lane, label, whether it is an answer (dashed). */
const STEPS: Array<[Lane, Lane, string, boolean?]> = [
  [0, 2, 'POST /mcp, no token', false],
  [2, 0, '401 + where to sign in (metadata)', true],
  [0, 1, 'register, authorize (PKCE, resource)', false],
  [1, 2, 'browser → Login URI ?external_auth_id', false],
  [2, 3, 'who is signed in here?', false],
  [3, 2, 'the user (after signing in)', true],
  [2, 1, 'complete: this user', false],
  [1, 0, 'consent → code → access token', true],
  [0, 2, 'POST /mcp + Bearer token', false],
  [2, 0, 'tools/call whoami → the user', true],
];

/** One drawing of the flow: its size, lanes, and where each step's words go. */
interface Drawing {
  id: string;
  width: number;
  lanes: readonly string[];
  laneX: (lane: number) => number;
  rowH: number;
  /** The words of step `n` (going from lane `from` to lane `to`) on the row at `y`: where, and aligned how. */
  label: (from: Lane, to: Lane) => { x: number; anchor: 'start' | 'middle'; above: number };
}

/**
 * The flow as an SVG sequence diagram, inline (no external assets, no script). It takes the page's
 * text colour (currentColor), so it reads in light and dark mode; the list after it says the same.
 */
function sequenceDiagram(d: Drawing): string {
  const top = 44;
  const height = top + STEPS.length * d.rowH + 14;
  const lanes = d.lanes
    .map(
      (name, i) =>
        `<text x="${d.laneX(i)}" y="22" text-anchor="middle" font-weight="600">${escapeHtml(name)}</text>` +
        `<line x1="${d.laneX(i)}" y1="32" x2="${d.laneX(i)}" y2="${height - 6}" stroke="currentColor" stroke-opacity=".35"/>`,
    )
    .join('');
  const arrows = STEPS.map(([from, to, label, answer], n) => {
    const y = top + (n + 1) * d.rowH - 10;
    const words = d.label(from, to);
    const x2 = d.laneX(to) + (to > from ? -6 : 6);
    return (
      `<text x="${words.x}" y="${y - words.above}" text-anchor="${words.anchor}" font-size="12" paint-order="stroke" ` +
      `stroke="Canvas" stroke-width="5" stroke-linejoin="round">${n + 1}. ${escapeHtml(label)}</text>` +
      `<line x1="${d.laneX(from)}" y1="${y}" x2="${x2}" y2="${y}" stroke="currentColor" stroke-width="1.5"` +
      `${answer ? ' stroke-dasharray="5 4"' : ''} marker-end="url(#arrow-${d.id})"/>`
    );
  }).join('');
  return (
    `<svg class="flow-${d.id}" viewBox="0 0 ${d.width} ${height}" width="${d.width}" height="${height}" role="img" ` +
    `aria-labelledby="flow-${d.id}-title" font-family="system-ui, sans-serif" font-size="13" fill="currentColor">` +
    `<title id="flow-${d.id}-title">Sequence diagram of the sign-in flow, described step by step below</title>` +
    `<defs><marker id="arrow-${d.id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">` +
    `<path d="M0,0 L10,5 L0,10 z" fill="currentColor"/></marker></defs>` +
    lanes +
    arrows +
    `</svg>`
  );
}

/** Wide: the words of each step centred between its two lanes. */
const WIDE: Drawing = {
  id: 'wide',
  width: 760,
  lanes: LANES,
  laneX: (i) => 95 + i * 190,
  rowH: 34,
  label: (from, to) => ({ x: (95 + from * 190 + 95 + to * 190) / 2, anchor: 'middle', above: 6 }),
};

/**
 * A phone (about 320 px): four narrow lanes, each step's words on a line of their own above its
 * arrow, so the text keeps its size instead of shrinking with a wide drawing.
 */
const PHONE: Drawing = {
  id: 'phone',
  width: 320,
  lanes: ['Client', 'AuthKit', 'Bridge', 'Sign-in'],
  laneX: (i) => 40 + i * 80,
  rowH: 42,
  label: () => ({ x: 4, anchor: 'start', above: 8 }),
};

/**
 * Both drawings; the page's width picks one (CSS), so a phone gets readable text rather than a
 * wide picture shrunk to a third.
 */
function flowDiagrams(): string {
  return (
    `<style>.flow-phone{display:none}@media (max-width:36rem){.flow-wide{display:none}.flow-phone{display:block;margin:0 auto}}</style>` +
    sequenceDiagram(WIDE) +
    sequenceDiagram(PHONE)
  );
}

/** What the home page says after one of the demo-user buttons did its change. */
const DONE: Record<DemoUserAction, (email: string) => string> = {
  'make-reader': (e) =>
    `${e} is now a reader. AI applications connected to it see the change at their next call.`,
  'make-admin': (e) =>
    `${e} is now an admin. AI applications connected to it see the change at their next call.`,
  disable: (e) =>
    `${e} is disabled: it cannot sign in, and every AI application connected to it lost its access.`,
  enable: (e) => `${e} is enabled again: it can sign in and connect AI applications.`,
};

/** "one workspace", "two workspaces", "12 workspaces". */
const count = (n: number, noun: string): string =>
  `${['no', 'one', 'two', 'three'][n] ?? n} ${noun}${n === 1 ? '' : 's'}`;

/**
 * The home page's "Roles and workspaces": what the legacy app says besides who someone is, and
 * (with the built-in sign-in) buttons that change the demo user as the legacy app would.
 */
function rolesSection(user: DemoUserView | undefined, done: DemoUserAction | undefined): string {
  const intro = `<h2 id="roles">Roles and workspaces</h2>
<p>Your app also says what a person may do: their <strong>roles</strong> (a tool can require one) and the
<strong>tenants</strong> (workspaces) they belong to. The bridge takes both from your app at every sign-in and
keeps them current, and <code>whoami</code> shows them. Someone in more than one workspace picks one on AuthKit's
consent page: the AI application acts in that workspace only (the token's <code>tenant</code> claim).</p>`;
  if (!user) return intro;
  const email = escapeHtml(user.email);
  const names = (list: string[]) => (list.length ? list.map((r) => escapeHtml(r)).join(', ') : 'none');
  const button = (action: DemoUserAction, label: string, secondary = false) =>
    `<form method="post" action="/demo/user" style="display:inline-block;margin-right:.5rem">` +
    `<input type="hidden" name="csrf" value="${escapeHtml(user.csrf)}">` +
    `<button type="submit" name="action" value="${action}"${secondary ? ' class="secondary"' : ''}>${escapeHtml(label)}</button></form>`;
  const isAdmin = user.roles.includes('admin');
  return `${intro}
<p>Here <code>${email}</code> is in ${count(user.tenants.length, 'workspace')}
(${names(user.tenants.map((t) => t.name))}), so the consent page ${user.tenants.length > 1 ? 'asks which one' : 'asks nothing'};
<code>reader@example.com</code> (same password) is a reader in Acme alone, so it is not asked.
Change the demo user as your app would, then sign in again or call <code>whoami</code> from a connected client:</p>
${done ? `<p role="status"><strong>Done:</strong> ${escapeHtml(DONE[done](user.email))}</p>` : ''}
<p>Now: roles <strong>${names(user.roles)}</strong>, ${user.disabled ? '<strong>disabled</strong>' : 'active'}.</p>
<div>
${button(isAdmin ? 'make-reader' : 'make-admin', isAdmin ? `Make ${user.email} a reader` : `Make ${user.email} an admin`)}
${button(user.disabled ? 'enable' : 'disable', user.disabled ? `Enable ${user.email}` : `Disable ${user.email}`, true)}
</div>
<p><small>Demo only. For real, your app answers (LEGACY_USER_URL), or for built-in accounts
<code>npm run users:add -- --email … --set-roles --role …</code>.</small></p>`;
}

/** GET / in demo mode: what this is, how to try it, how to connect a client, the flow. */
export function demoHomePage(
  info: DemoInfo,
  options: { demoUser?: DemoUserView; done?: DemoUserAction } = {},
): string {
  const mcp = escapeHtml(info.mcpUrl);
  const local = info.strategy === 'local';
  const link = (href: string, text: string) => `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`;
  return renderPage({
    title: 'Welcome to the demo',
    wide: true,
    body: `
<p>connect-bridge puts an MCP server behind real OAuth (WorkOS AuthKit) while people keep signing in
with the login they already have. In this demo an emulator stands in for AuthKit and
${local ? 'a built-in sign-in form' : `your <code>${escapeHtml(info.strategy)}</code> login`} stands in
for your app. Nothing leaves this machine.</p>

<h2>Try it in this browser</h2>
<p>Walk the whole flow as an MCP client would start it: AuthKit sends you to this bridge, you sign in,
and the MCP server answers <code>whoami</code> with your account.</p>
${local ? `<p>Sign in as <code>${escapeHtml(info.demoEmail)}</code> with the password printed where you ran <code>npm start</code> (a new one at every start).</p>` : ''}
<p><a class="button" href="/demo/start">Start the sign-in</a></p>

${rolesSection(options.demoUser, options.done)}

<h2>Connect an MCP client</h2>
<p>MCP server URL (Streamable HTTP): <code>${mcp}</code></p>
<ul>
<li><strong>MCP Inspector</strong>: run <code>npx @modelcontextprotocol/inspector</code>, choose transport
<em>Streamable HTTP</em>, URL <code>${mcp}</code>, then <em>Connect</em> and sign in when it asks.</li>
<li><strong>An SDK client</strong> (the official TypeScript SDK): <code>${escapeHtml(demoClientCommand(info.mcpUrl))}</code>
prints a sign-in link, then the answer of <code>whoami</code>.</li>
</ul>

<h2>How it works</h2>
<figure>
${flowDiagrams()}
<figcaption>
<ul>
<li><strong>1–2</strong>: the MCP client calls <code>/mcp</code> without a token and gets <code>401</code> with the
address of the protected-resource metadata, which names AuthKit as the authorization server.</li>
<li><strong>3</strong>: the client registers with AuthKit (dynamic registration or a Client ID Metadata Document)
and opens AuthKit's authorize URL in the browser, with PKCE and <code>resource=${mcp}</code>.</li>
<li><strong>4</strong>: AuthKit sends the browser to this bridge's Login URI with an <code>external_auth_id</code>.</li>
<li><strong>5–6</strong>: the bridge asks your existing sign-in who this is, sending the person through it if needed.</li>
<li><strong>7–8</strong>: the bridge tells AuthKit who signed in (the completion API); AuthKit shows consent and
returns a code to the client, which exchanges it for an access token (and a refresh token).</li>
<li><strong>9–10</strong>: the client calls <code>/mcp</code> with the token; the bridge verifies it, and the tools
see the user of your app.</li>
</ul>
</figcaption>
</figure>

<h2>Look around</h2>
<ul>
<li>${link('/docs/mcp', 'The page for people connecting clients')} (<code>/docs/mcp</code>)</li>
<li>${link('/account/connections', 'The AI applications connected to your account')} (<code>/account/connections</code>)</li>
<li>${link('/.well-known/oauth-protected-resource/mcp', 'Protected resource metadata')} (RFC 9728)</li>
<li>${link(`${info.authkitUrl}/.well-known/oauth-authorization-server`, 'AuthKit (emulator) metadata')}</li>
<li>${link('/readyz', 'Readiness')}, ${link('/healthz', 'liveness')}, ${link('/metrics', 'Prometheus metrics')}</li>
</ul>
<p>To run it for real, see the deploy guide, <code>docs/deploy.md</code> in the repository.</p>`,
  });
}

/** The end of the in-browser walk-through: what the MCP server answered, and the token's claims. */
export function demoResultPage(
  whoami: unknown,
  claims: Record<string, unknown>,
  refreshable: boolean,
): string {
  const shown = Object.fromEntries(
    ['iss', 'aud', 'sub', 'client_id', 'scope', 'tenant', 'iat', 'exp']
      .filter((k) => k in claims)
      .map((k) => [k, claims[k]]),
  );
  return renderPage({
    title: 'Signed in: the MCP server knows you',
    wide: true,
    body: `
<p>AuthKit issued an access token for this MCP server, and <code>tools/call whoami</code> with it answered:</p>
<pre>${escapeHtml(JSON.stringify(whoami, null, 2))}</pre>
<p><code>legacy_user_id</code> is the id of the account in your sign-in system; <code>sub</code> is the
WorkOS user AuthKit keeps for it. <code>roles</code> and <code>tenant</code> are what your app says about the
account (the tenant: the workspace chosen on the consent page, or the only one).</p>
<p>The access token's main claims${refreshable ? ' (it came with a refresh token, thanks to <code>offline_access</code>)' : ''}:</p>
<pre>${escapeHtml(JSON.stringify(shown, null, 2))}</pre>
<p>See or revoke the AI applications connected to your account: <a href="/account/connections">/account/connections</a></p>
<p><a class="button" href="/">Back to the demo</a></p>`,
  });
}

/** The walk-through went wrong (expired link, refused code): say so, offer to start again. */
export function demoProblemPage(
  message: string,
  next: { href: string; label: string } = { href: '/demo/start', label: 'Start again' },
): string {
  return renderPage({
    title: next.href === '/demo/start' ? 'The demo sign-in did not finish' : 'Nothing was changed',
    body: `<p class="error">${escapeHtml(message)}</p><p><a class="button" href="${escapeHtml(next.href)}">${escapeHtml(next.label)}</a></p>`,
  });
}
