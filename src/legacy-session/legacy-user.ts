import { z } from 'zod';

/** A person as the legacy app knows them: what AuthKit's completion needs, nothing more. */
export interface LegacyUser {
  /** The legacy app's own user id; AuthKit stores it as the WorkOS user's `external_id`. */
  id: string;
  email: string;
  firstName?: string;
  lastName?: string;
  /** Up to 50 string values, keys <= 40 characters, values <= 600 (AuthKit's limits). */
  metadata?: Record<string, string>;
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
  })
  .transform((u): LegacyUser => ({
    id: u.id,
    email: u.email,
    ...(u.first_name ? { firstName: u.first_name } : {}),
    ...(u.last_name ? { lastName: u.last_name } : {}),
    ...(u.metadata && Object.keys(u.metadata).length ? { metadata: u.metadata } : {}),
  }));

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
