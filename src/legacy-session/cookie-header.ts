/** Prefix of every cookie the bridge sets; they are never forwarded to the legacy app. */
export const BRIDGE_COOKIE_PREFIX = 'cbridge_';

/** Splits a raw Cookie header into [name, rawPair] entries, keeping values byte for byte. */
function cookiePairs(header: string | undefined): Array<[string, string]> {
  if (!header) return [];
  const pairs: Array<[string, string]> = [];
  for (const part of header.split(';')) {
    const pair = part.trim();
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    pairs.push([pair.slice(0, eq).trim(), pair]);
  }
  return pairs;
}

/**
 * The Cookie header to forward to the legacy app: the named cookies only when `names` is set,
 * otherwise every cookie except the bridge's own. `undefined` when nothing is left.
 */
export function forwardedCookieHeader(header: string | undefined, names?: string[]): string | undefined {
  const wanted = names?.length ? new Set(names) : undefined;
  const kept = cookiePairs(header)
    .filter(([name]) => (wanted ? wanted.has(name) : !name.startsWith(BRIDGE_COOKIE_PREFIX)))
    .map(([, pair]) => pair);
  return kept.length ? kept.join('; ') : undefined;
}

/** The (URI-decoded when possible) value of one cookie, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  const pair = cookiePairs(header).find(([n]) => n === name)?.[1];
  if (pair === undefined) return undefined;
  let value = pair.slice(pair.indexOf('=') + 1).trim();
  if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
