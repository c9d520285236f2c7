import {
  accountSignInPage,
  applicationName,
  connectionsPage,
  relativeTime,
} from '../../src/access/account/account.pages';
import type { GrantView } from '../../src/access/grants.service';

const grant = (over: Partial<GrantView> = {}): GrantView => ({
  id: 'grant_1',
  clientId: 'client_1',
  clientName: null,
  scopes: ['openid', 'email', 'tools:read'],
  createdAt: new Date('2026-03-12T09:00:00Z'),
  lastUsedAt: new Date('2026-03-14T11:58:00Z'),
  revokedAt: null,
  revokedBy: null,
  authkitSession: null,
  ...over,
});

describe('applicationName', () => {
  it.each([
    [{ clientId: 'https://claude.ai/oauth/mcp-client.json', clientName: 'Claude' }, 'Claude'],
    [{ clientId: 'https://www.example.com/client.json', clientName: null }, 'example.com'],
    [{ clientId: 'http://127.0.0.1:8080/cimd', clientName: null }, '127.0.0.1'],
    [{ clientId: 'demo_client', clientName: null }, 'Demo client'],
    [
      { clientId: 'client_01J3X4ABCDEFGHJKMNPQRSTVWXYZ', clientName: null },
      'Application client_01J3X4ABCDEFGHJKM…',
    ],
    [{ clientId: 'abc123', clientName: null }, 'Application abc123'],
  ])('%j → %s', (g, name) => {
    expect(applicationName(g)).toBe(name);
  });
});

describe('relativeTime', () => {
  const now = new Date('2026-03-14T12:00:00Z');
  it.each([
    ['2026-03-14T11:59:30Z', 'just now'],
    ['2026-03-14T11:59:00Z', '1 minute ago'],
    ['2026-03-14T11:15:00Z', '45 minutes ago'],
    ['2026-03-14T09:00:00Z', '3 hours ago'],
    ['2026-03-13T10:00:00Z', 'yesterday'],
    ['2026-03-10T12:00:00Z', '4 days ago'],
    ['2026-02-01T12:00:00Z', '1 February 2026'],
  ])('%s → %s', (at, text) => {
    expect(relativeTime(new Date(at), now)).toBe(text);
  });
});

describe('connectionsPage', () => {
  const user = { id: 'u1', email: 'ann@example.com', firstName: 'Ann' };
  const page = (grants: GrantView[]) =>
    connectionsPage({
      user,
      grants,
      csrf: 'tok',
      mcpUrl: 'https://bridge.example.com/mcp',
      signOut: { kind: 'local' },
      now: new Date('2026-03-14T12:00:00Z'),
    });

  it('escapes what comes from outside (names, client ids, scopes)', () => {
    const html = page([
      grant({ clientName: '<img src=x onerror=alert(1)>', clientId: '"><script>', scopes: ['<b>'] }),
    ]);
    expect(html).not.toMatch(/<img|<script|<b>/);
    expect(html).toContain('aria-label="Revoke &lt;img src=x onerror=alert(1)&gt;"');
  });

  it('shows each grant with its name, client id, scopes in words, dates and a revoke form', () => {
    const html = page([grant()]);
    expect(html).toContain('Application client_1');
    expect(html).toContain('See your email address');
    expect(html).toContain('<code>tools:read</code>');
    expect(html).toContain('Connected <time datetime="2026-03-12T09:00:00.000Z"');
    expect(html).toContain('>2 minutes ago</time>');
    expect(html).toContain('<form method="post" action="/account/connections/grant_1/revoke"');
    expect(html).toContain('<input type="hidden" name="csrf" value="tok">');
    expect(html).toContain('action="/account/sign-out"');
  });

  it('explains how an application gets connected when there is none', () => {
    const html = page([]);
    expect(html).toContain('No AI application is connected');
    expect(html).toContain('https://bridge.example.com/mcp');
  });

  it('the sign-in form carries the CSRF token and labelled fields', () => {
    const html = accountSignInPage('tok', { error: 'Nope' });
    expect(html).toContain('<input type="hidden" name="csrf" value="tok">');
    expect(html).toContain('<label for="email">Email</label>');
    expect(html).toContain('role="alert"');
  });
});
