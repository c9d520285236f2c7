import { z } from 'zod';

/** A tenant (workspace, organization, account) the person belongs to in the legacy app. */
export interface LegacyTenant {
  id: string;
  name: string;
}

/** A person as the legacy app knows them: what AuthKit's completion needs, and what tools may use. */
export interface LegacyUser {
  /** The legacy app's own user id; AuthKit stores it as the WorkOS user's `external_id`. */
  id: string;
  email: string;
  firstName?: string;
  lastName?: string;
  /** Up to 50 string values, keys <= 40 characters, values <= 600 (AuthKit's limits). */
  metadata?: Record<string, string>;
  /** Roles in the legacy app (tools can require them); absent when the legacy app says nothing. */
  roles?: string[];
  /** Tenants the person belongs to; with more than one, AuthKit's consent screen asks which. */
  tenants?: LegacyTenant[];
}

/** Names are shown and stored: control characters are dropped (PostgreSQL text cannot hold NUL). */
const name = z
  .string()
  .max(255)
  .nullish()
  .transform((v) => v?.replace(/\p{Cc}/gu, '').trim() || undefined);

const userId = z.union([
  z
    .string()
    .trim()
    .min(1)
    .max(255)
    .regex(/^[^\p{Cc}]+$/u, { message: 'must not contain control characters' }),
  z
    .number()
    .int()
    .nonnegative()
    .refine((n) => Number.isSafeInteger(n))
    .transform(String),
]);

/** A role name: printable, no spaces or commas, bounded. */
export const ROLE = /^[\x21-\x2B\x2D-\x7E]{1,100}$/;

const roles = z
  .array(
    z.string().trim().regex(ROLE, { message: 'roles are 1-100 printable characters, no spaces or commas' }),
  )
  .max(100)
  .transform((r) => [...new Set(r)]);

const tenants = z
  .array(
    z.object({
      id: userId,
      name: z
        .string()
        .max(200)
        .transform((v) => v.replace(/\p{Cc}/gu, '').trim()),
    }),
  )
  .max(100)
  .transform((list) => {
    const seen = new Set<string>();
    return list
      .filter((t) => !seen.has(t.id) && seen.add(t.id))
      .map((t) => ({ id: t.id, name: t.name || t.id }));
  });

const metadata = z
  .record(z.string().min(1).max(40), z.string().max(600))
  .refine((m) => Object.keys(m).length <= 50, { message: 'at most 50 keys' });

/**
 * The user JSON a legacy app hands over (introspection body, mapped JWT claims), checked and
 * normalised: snake_case names as in ../shared/INTERFACE.md, ids may be strings or integers.
 */
export const legacyUserSchema = z
  .object({
    id: userId,
    email: z.string().trim().max(320).pipe(z.email()),
    first_name: name,
    last_name: name,
    metadata: metadata.nullish(),
    roles: roles.nullish(),
    tenants: tenants.nullish(),
  })
  .transform((u): LegacyUser => ({
    id: u.id,
    email: u.email,
    ...(u.first_name ? { firstName: u.first_name } : {}),
    ...(u.last_name ? { lastName: u.last_name } : {}),
    ...(u.metadata && Object.keys(u.metadata).length ? { metadata: u.metadata } : {}),
    ...(u.roles ? { roles: u.roles } : {}),
    ...(u.tenants ? { tenants: u.tenants } : {}),
  }));

/** Roles as stored or answered: each entry checked on its own (a bad one is dropped), deduplicated. */
export function rolesFrom(value: unknown): string[] {
  return lenientRoles(value) ?? [];
}

/** Tenants as stored: all of them when every entry is valid, otherwise none (see lenientTenants). */
export function tenantsFrom(value: unknown): LegacyTenant[] {
  if (!Array.isArray(value)) return [];
  const parsed = tenants.safeParse(
    value.filter((t) => t && typeof t === 'object' && !Array.isArray(t)).slice(0, 100),
  );
  return parsed.success ? parsed.data : [];
}

/**
 * Roles from a claim the legacy app did not write for the bridge (a JWT claim): an array of role
 * names, each checked on its own (a bad entry is dropped, not the list), at most 100.
 * `undefined` when the value is not an array at all: the claim says nothing usable.
 */
export function lenientRoles(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const valid = value
    .filter((v): v is string => typeof v === 'string')
    .map((v) => v.trim())
    .filter((v) => ROLE.test(v));
  return [...new Set(valid)].slice(0, 100);
}

/**
 * Tenants from such a claim: an array of `{id, name}` objects, each checked on its own (a bad
 * entry is dropped), deduplicated by id, at most 100. `undefined` when the value is not an array.
 */
export function lenientTenants(value: unknown): LegacyTenant[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const valid = value.slice(0, 1000).flatMap((entry) => tenantsFrom([entry]));
  const seen = new Set<string>();
  return valid.filter((t) => !seen.has(t.id) && seen.add(t.id)).slice(0, 100);
}

/** Parses untrusted user JSON; `null` with the reasons when it is not usable. */
export function parseLegacyUser(
  input: unknown,
): { ok: true; user: LegacyUser } | { ok: false; problems: string[] } {
  const result = legacyUserSchema.safeParse(input);
  if (result.success) return { ok: true, user: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`),
  };
}
