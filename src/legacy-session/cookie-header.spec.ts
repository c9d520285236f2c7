import { cookieValue, forwardedCookieHeader } from './cookie-header';

describe('forwardedCookieHeader', () => {
  const header = 'sid=abc; cbridge_session=s%3Asecret; remember=1; cbridge_tx_x=s%3Ay; weird';

  it('forwards every cookie but the bridge own ones by default, values untouched', () => {
    expect(forwardedCookieHeader(header)).toBe('sid=abc; remember=1');
  });

  it('forwards only the named cookies when LEGACY_COOKIE_NAMES is set', () => {
    expect(forwardedCookieHeader(header, ['remember'])).toBe('remember=1');
    expect(forwardedCookieHeader(header, ['nope'])).toBeUndefined();
  });

  it('answers undefined without cookies', () => {
    expect(forwardedCookieHeader(undefined)).toBeUndefined();
    expect(forwardedCookieHeader('')).toBeUndefined();
    expect(forwardedCookieHeader('cbridge_session=x')).toBeUndefined();
  });
});

describe('cookieValue', () => {
  it('reads, unquotes and URI-decodes one cookie', () => {
    expect(cookieValue('a=1; jwt="x.y.z"; b=%7B', 'jwt')).toBe('x.y.z');
    expect(cookieValue('a=1; b=%7B', 'b')).toBe('{');
    expect(cookieValue('a=1; b=%E0%A4%A', 'b')).toBe('%E0%A4%A');
    expect(cookieValue('a=1', 'b')).toBeUndefined();
    expect(cookieValue(undefined, 'b')).toBeUndefined();
  });
});
