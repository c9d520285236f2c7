import { csrfToken, csrfTokenMatches, txCookieName } from './login-cookies';

describe('CSRF tokens', () => {
  const secret = 'x'.repeat(32);
  const token = csrfToken(secret, 'tx1', 'binding');

  it('match only for the same server secret, transaction and browser binding', () => {
    expect(csrfTokenMatches(secret, 'tx1', 'binding', token)).toBe(true);
    expect(csrfTokenMatches('y'.repeat(32), 'tx1', 'binding', token)).toBe(false);
    expect(csrfTokenMatches(secret, 'tx2', 'binding', token)).toBe(false);
    expect(csrfTokenMatches(secret, 'tx1', 'other', token)).toBe(false);
  });

  it.each([undefined, null, 0, '', [], {}, 'x'.repeat(500), token.slice(1)])('refuses %p', (presented) => {
    expect(csrfTokenMatches(secret, 'tx1', 'binding', presented)).toBe(false);
  });

  it('names one cookie per transaction, with the bridge prefix', () => {
    expect(txCookieName('abc')).toBe('cbridge_tx_abc');
  });
});
