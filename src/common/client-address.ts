import { isIPv4, isIPv6 } from 'node:net';

/** How many leading bits of an IPv6 address name one client when RATE_LIMIT_IPV6_PREFIX is unset. */
export const DEFAULT_IPV6_PREFIX = 64;

/**
 * The part of a client address that rate limits count by (the key is hashed by the caller):
 *
 * - IPv4: the whole address.
 * - IPv6: the network of its first `ipv6Prefix` bits (default /64, what one subscriber, host or
 *   VM usually holds: 2^64 addresses that would otherwise be 2^64 separate limits), written
 *   canonically (`2001:db8:1:2::/64`) so that every spelling of one address gives one key. A
 *   zone (`%eth0`) and brackets are dropped.
 * - IPv4-mapped IPv6 (`::ffff:203.0.113.7`, a dual-stack socket's view of an IPv4 client): the
 *   IPv4 address, so both spellings share one limit.
 * - No address: `unknown`; something that is not an address (a misconfigured proxy's header):
 *   `invalid`. Each is one shared bucket, never a key per made-up value.
 */
export function clientAddressKey(ip: string | undefined, ipv6Prefix = DEFAULT_IPV6_PREFIX): string {
  if (!Number.isInteger(ipv6Prefix) || ipv6Prefix < 1 || ipv6Prefix > 128) {
    throw new RangeError(`an IPv6 prefix length is 1 to 128, not ${ipv6Prefix}`);
  }
  if (!ip) return 'unknown';
  if (ip.length > 100) return 'invalid';
  if (isIPv4(ip)) return ip;
  let address = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const zone = address.indexOf('%');
  if (zone !== -1) address = address.slice(0, zone);
  const groups = isIPv6(address) ? ipv6Groups(address) : null;
  if (!groups) return 'invalid';
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join('.');
  }
  const network = groups.map((g, i) => {
    const bits = Math.max(0, Math.min(16, ipv6Prefix - 16 * i));
    return g & ((0xffff << (16 - bits)) & 0xffff);
  });
  return `${formatIpv6(network)}/${ipv6Prefix}`;
}

/** The eight 16-bit groups of a valid IPv6 address (no zone), or null. */
function ipv6Groups(address: string): number[] | null {
  let text = address.toLowerCase();
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    if (!isIPv4(tail)) return null;
    const [a, b, c, d] = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<string>(missing).fill('0'), ...rest].map((h) => parseInt(h, 16));
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff)
    ? groups
    : null;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
function formatIpv6(groups: number[]): string {
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.length < 2) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}
