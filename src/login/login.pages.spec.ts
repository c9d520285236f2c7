import { confirmPage, connectPage, failurePage, signInPage } from './login.pages';
import { LOGIN_FAILURES, type LoginFailureCode } from './login-failures';

const form = { txId: 'tx"1', csrf: '<c>' };
const hostile = '<script>alert(1)</script>"\'&';

describe('login pages', () => {
  it('escape everything that comes from outside', () => {
    const pages = [
      confirmPage(form, { id: hostile, email: `${hostile}@x.co`, firstName: hostile }),
      signInPage(form, { email: hostile, error: hostile }),
      connectPage({ ...form, appHost: hostile }),
      signInPage({ ...form, appHost: hostile }),
    ];
    for (const html of pages) {
      expect(html).not.toContain('<script>');
      expect(html).toContain('&lt;script&gt;');
      expect(html).toContain('value="tx&quot;1"');
    }
  });

  it('label every input and carry the CSRF token in every form', () => {
    const html = signInPage(form);
    expect(html).toContain('<label for="email">');
    expect(html).toContain('<label for="password">');
    expect(html).toContain('autocomplete="current-password"');
    expect(html).toContain('name="csrf" value="&lt;c&gt;"');
    expect(html).not.toMatch(/<script|https?:\/\//);
  });

  it('say on every page that asks who is asking and where, with Cancel and the CSRF token', () => {
    const at = { ...form, appHost: 'bridge.example.com' };
    for (const html of [connectPage(at), signInPage(at), confirmPage(at, { id: 'u1', email: 'a@b.co' })]) {
      expect(html).toContain(
        'An AI application is asking to connect to your account at <strong>bridge.example.com</strong>.',
      );
      expect(html).toContain(
        '<button type="submit" name="action" value="cancel" class="secondary">Cancel</button>',
      );
      expect(html).toContain('name="csrf" value="&lt;c&gt;"');
    }
    expect(connectPage(at)).toContain('<form method="post" action="/auth/login/connect">');
    expect(connectPage(at)).toContain(
      '<button type="submit" name="action" value="continue">Continue</button>',
    );
  });

  it.each(Object.keys(LOGIN_FAILURES) as LoginFailureCode[])('has a page for %s with its code', (code) => {
    const html = failurePage(code);
    expect(html).toContain(LOGIN_FAILURES[code].title.replace(/'/g, '&#39;'));
    expect(html).toContain(`<code>${code}</code>`);
  });

  it('offers a retry form or a resume link', () => {
    expect(failurePage('authkit_unavailable', { retry: form })).toContain('action="/auth/login/retry"');
    expect(failurePage('legacy_unavailable', { resumeTxId: 'abc' })).toContain(
      'href="/auth/login/resume?tx=abc"',
    );
    expect(failurePage('login_transaction_expired')).toContain('start the connection again');
  });
});
