import { LocalUsersService } from '../../src/legacy-session/local-users.service';
import { Browser, pageText } from './browser';
import { startHarness, type Harness } from './harness';

describe('login bridge, local strategy', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ strategy: 'local' });
    await h.app.get(LocalUsersService).create({ email: 'carol@example.com', password: 'carol-password', firstName: 'Carol' });
  });
  afterAll(() => h.close());

  it('goes from authorize through the sign-in form to the client redirect with a code', async () => {
    const b = new Browser();
    const form = await b.go(h.authorizeUrl('st1'));
    expect(form.status).toBe(200);
    expect(pageText(form.html)).toContain('Sign in to continue');
    const end = await b.submit(form, '/auth/login/local', { email: 'carol@example.com', password: 'carol-password' }, h.isClientRedirect);
    const u = new URL(end.url);
    expect(u.searchParams.get('code')).toBeTruthy();
    expect(u.searchParams.get('state')).toBe('st1');
  });
});
