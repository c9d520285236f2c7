import { clientAddressKey } from './client-address';

describe('clientAddressKey', () => {
  it('keeps an IPv4 address whole', () => {
    expect(clientAddressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddressKey('203.0.113.8')).not.toBe(clientAddressKey('203.0.113.7'));
  });

  it('keys an IPv6 address by its /64, whatever the spelling', () => {
    const key = clientAddressKey('2001:db8:abcd:12::1');
    expect(key).toBe('2001:db8:abcd:12::/64');
    for (const same of [
      '2001:db8:abcd:12::2',
      '2001:db8:abcd:12:ffff:ffff:ffff:ffff',
      '2001:0db8:abcd:0012:0000:0000:0000:0001', // full
      '2001:DB8:ABCD:12:DEAD:BEEF:1:2', // upper case
      '2001:db8:abcd:12:0:0:0:0',
      '2001:db8:abcd:12::', // compressed at the end
      '2001:db8:abcd:12::1.2.3.4', // embedded dotted tail
      '[2001:db8:abcd:12::1]', // bracketed
    ]) {
      expect(clientAddressKey(same)).toBe(key);
    }
    expect(clientAddressKey('2001:db8:abcd:13::1')).not.toBe(key);
    expect(clientAddressKey('::1')).toBe('::/64');
    expect(clientAddressKey('::')).toBe('::/64');
    expect(clientAddressKey('1::')).toBe('1::/64');
  });

  it('drops a zone index', () => {
    expect(clientAddressKey('fe80::1%eth0')).toBe('fe80::/64');
    expect(clientAddressKey('fe80::abcd:1%25en0')).toBe('fe80::/64');
    expect(clientAddressKey('fe80::1%1')).toBe(clientAddressKey('fe80::2'));
  });

  it('counts an IPv4-mapped IPv6 address as the IPv4 address', () => {
    expect(clientAddressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddressKey('::FFFF:203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddressKey('::ffff:cb00:7107')).toBe('203.0.113.7');
    expect(clientAddressKey('0:0:0:0:0:ffff:cb00:7107')).toBe('203.0.113.7');
    // Not mapped: IPv4-compatible (deprecated) and NAT64 addresses stay IPv6.
    expect(clientAddressKey('::203.0.113.7')).toBe('::/64');
    expect(clientAddressKey('64:ff9b::203.0.113.7')).toBe('64:ff9b::/64');
  });

  it('keys by another prefix when configured (/48, /56, /128)', () => {
    expect(clientAddressKey('2001:db8:abcd:12::1', 48)).toBe('2001:db8:abcd::/48');
    expect(clientAddressKey('2001:db8:abcd:ff12::1', 48)).toBe('2001:db8:abcd::/48');
    expect(clientAddressKey('2001:db8:abce::1', 48)).not.toBe(clientAddressKey('2001:db8:abcd::1', 48));
    expect(clientAddressKey('2001:db8:abcd:12ff::1', 56)).toBe('2001:db8:abcd:1200::/56');
    expect(clientAddressKey('2001:db8:abcd:12::1', 128)).toBe('2001:db8:abcd:12::1/128');
    expect(clientAddressKey('2001:db8:abcd:12::1', 60)).toBe('2001:db8:abcd:10::/60');
    // IPv4 (mapped or not) is never cut.
    expect(clientAddressKey('::ffff:203.0.113.7', 48)).toBe('203.0.113.7');
  });

  it('puts a missing address and anything that is not an address in one bucket each', () => {
    expect(clientAddressKey(undefined)).toBe('unknown');
    expect(clientAddressKey('')).toBe('unknown');
    for (const junk of ['garbage', '1.2.3', '256.1.1.1', '2001:db8::g', '1::2::3', ':::', 'a'.repeat(5000)]) {
      expect(clientAddressKey(junk)).toBe('invalid');
    }
  });

  it('refuses a prefix outside 1-128', () => {
    expect(() => clientAddressKey('::1', 0)).toThrow(RangeError);
    expect(() => clientAddressKey('::1', 129)).toThrow(RangeError);
    expect(() => clientAddressKey('::1', 64.5)).toThrow(RangeError);
  });
});
