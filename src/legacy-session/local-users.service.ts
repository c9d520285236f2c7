import { randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { LocalUser, Prisma, PrismaClient } from '../generated/prisma/client';
import { ConflictError, DomainError, NotFoundError } from '../common/errors';
import { PrismaService } from '../database/prisma.service';
import { withPrismaErrors } from '../database/prisma-errors';
import { ROLE, rolesFrom, tenantsFrom, type LegacyTenant, type LegacyUser } from './legacy-user';
import { PasswordHasher } from './password-hasher';

export const MIN_PASSWORD_LENGTH = 8;
/** Longer passwords are refused without hashing (argon2 of megabytes is a cheap DoS). */
export const MAX_PASSWORD_LENGTH = 1024;

export type PasswordCheck =
  | { ok: true; user: LegacyUser }
  | { ok: false; code: 'invalid_credentials' | 'user_disabled'; userId?: string };

export interface NewLocalUser {
  email: string;
  password: string;
  firstName?: string;
  lastName?: string;
  /** Role names (1-100 printable characters, no spaces or commas). */
  roles?: string[];
  /** Tenants (workspaces) the user belongs to; with more than one, AuthKit's consent asks which. */
  tenants?: LegacyTenant[];
}

/** A local user's roles, tenants and status, as the CLI and the demo change them. */
export interface LocalUserAccess {
  id: string;
  email: string;
  disabled: boolean;
  roles: string[];
  tenants: LegacyTenant[];
}

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

const EMAIL = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u;
/** Control characters never name an account (and PostgreSQL text cannot even hold NUL). */
const CONTROL = /\p{Cc}/u;

export function toLegacyUser(
  u: Pick<LocalUser, 'id' | 'email' | 'firstName' | 'lastName' | 'roles' | 'tenants'>,
): LegacyUser {
  return {
    id: u.id,
    email: u.email,
    ...(u.firstName ? { firstName: u.firstName } : {}),
    ...(u.lastName ? { lastName: u.lastName } : {}),
    roles: rolesFrom(u.roles),
    tenants: tenantsFrom(u.tenants),
  };
}

/**
 * Roles as an operator typed them: each a role name (1-100 printable characters, no spaces or
 * commas), duplicates dropped. A bad one is refused (the command says which), never skipped.
 */
export function checkRoles(roles: readonly string[]): string[] {
  const trimmed = roles.map((r) => r.trim());
  const bad = trimmed.find((r) => !ROLE.test(r));
  if (bad !== undefined)
    throw new DomainError(
      'invalid_role',
      `"${bad}" is not a role name (1-100 printable characters, no spaces or commas).`,
    );
  if (trimmed.length > 100) throw new DomainError('invalid_role', 'A user has at most 100 roles.');
  return [...new Set(trimmed)];
}

/** Tenants as an operator typed them: ids unique, names non-empty; refused, never skipped. */
export function checkTenants(tenants: readonly LegacyTenant[]): LegacyTenant[] {
  if (tenants.length > 100) throw new DomainError('invalid_tenant', 'A user has at most 100 tenants.');
  const checked = tenants.map((t) => {
    const [ok] = t.name.trim() ? tenantsFrom([t]) : [];
    if (!ok)
      throw new DomainError(
        'invalid_tenant',
        `"${t.id}=${t.name}" is not a tenant (an id of 1-255 characters and a name of 1-200, no control characters).`,
      );
    return ok;
  });
  const duplicate = checked.find((t, i) => checked.findIndex((c) => c.id === t.id) !== i);
  if (duplicate) throw new DomainError('invalid_tenant', `The tenant id "${duplicate.id}" appears twice.`);
  return checked;
}

/** Roles, tenants and status of a local user row, as the CLI and the demo show them. */
export function localUserAccess(
  u: Pick<LocalUser, 'id' | 'email' | 'disabled' | 'roles' | 'tenants'>,
): LocalUserAccess {
  return {
    id: u.id,
    email: u.email,
    disabled: u.disabled,
    roles: rolesFrom(u.roles),
    tenants: tenantsFrom(u.tenants),
  };
}

/**
 * The `local` strategy's users: argon2id hashes, emails compared case-insensitively, and the
 * same work for an unknown email as for a wrong password, so timing does not tell them apart.
 */
@Injectable()
export class LocalUsersService {
  private dummyHash?: Promise<string>;

  constructor(
    @Inject(PrismaService) private readonly prisma: PrismaClient,
    private readonly hasher: PasswordHasher,
  ) {}

  async create(input: NewLocalUser): Promise<LocalUser> {
    const email = normalizeEmail(input.email);
    if (!EMAIL.test(email) || email.length > 320) {
      throw new DomainError('invalid_email', 'That is not an email address.');
    }
    checkPasswordPolicy(input.password);
    const roles = checkRoles(input.roles ?? []);
    const tenants = checkTenants(input.tenants ?? []);
    const passwordHash = await this.hasher.hash(input.password);
    return withPrismaErrors(() =>
      this.prisma.localUser.create({
        data: {
          id: `usr_${randomUUID().replace(/-/g, '')}`,
          email,
          passwordHash,
          firstName: input.firstName?.trim() || null,
          lastName: input.lastName?.trim() || null,
          roles,
          tenants: tenants as unknown as Prisma.InputJsonValue,
        },
      }),
    ).catch((err: unknown) => {
      if (err instanceof ConflictError)
        throw new ConflictError(`A user with the email ${email} already exists.`);
      throw err;
    });
  }

  async setPassword(email: string, password: string): Promise<void> {
    checkPasswordPolicy(password);
    const passwordHash = await this.hasher.hash(password);
    await this.updateByEmail(email, { passwordHash });
  }

  /**
   * A disabled user cannot sign in, and an existing session of theirs stops counting (their
   * grants are ended by the caller: src/cli/users-add.ts). Resolves the user's id.
   */
  async setDisabled(email: string, disabled: boolean): Promise<LocalUserAccess> {
    return this.updateByEmail(email, { disabled });
  }

  /** Replaces the user's roles (none: an empty list). Resolves what the user has now. */
  async setRoles(email: string, roles: readonly string[]): Promise<LocalUserAccess> {
    return this.updateByEmail(email, { roles: checkRoles(roles) });
  }

  /** Replaces the user's tenants (none: an empty list). Resolves what the user has now. */
  async setTenants(email: string, tenants: readonly LegacyTenant[]): Promise<LocalUserAccess> {
    return this.updateByEmail(email, {
      tenants: checkTenants(tenants) as unknown as Prisma.InputJsonValue,
    });
  }

  private async updateByEmail(
    email: string,
    data: Prisma.LocalUserUpdateManyMutationInput,
  ): Promise<LocalUserAccess> {
    const rows = await this.prisma.localUser.updateManyAndReturn({
      where: { email: normalizeEmail(email) },
      data,
      select: { id: true, email: true, disabled: true, roles: true, tenants: true },
    });
    if (rows.length === 0)
      throw new NotFoundError(`There is no user with the email ${normalizeEmail(email)}.`);
    return localUserAccess(rows[0]);
  }

  findByEmail(email: string): Promise<LocalUser | null> {
    return this.prisma.localUser.findUnique({ where: { email: normalizeEmail(email) } });
  }

  /** An enabled user by id (the bridge session's subject), or null. */
  async findActive(id: string): Promise<LegacyUser | null> {
    const user = await this.prisma.localUser.findUnique({ where: { id } });
    return user && !user.disabled ? toLegacyUser(user) : null;
  }

  /**
   * Checks an email and password. A disabled account is reported only after its password
   * was verified, so the answer reveals nothing to someone who does not know it.
   */
  async verifyPassword(email: string, password: string): Promise<PasswordCheck> {
    if (typeof email !== 'string' || typeof password !== 'string' || password.length > MAX_PASSWORD_LENGTH) {
      return { ok: false, code: 'invalid_credentials' };
    }
    const user = email.length <= 320 && !CONTROL.test(email) ? await this.findByEmail(email) : null;
    if (!user) {
      await this.hasher.verify(await this.getDummyHash(), password);
      return { ok: false, code: 'invalid_credentials' };
    }
    if (!(await this.hasher.verify(user.passwordHash, password)))
      return { ok: false, code: 'invalid_credentials' };
    if (user.disabled) return { ok: false, code: 'user_disabled', userId: user.id };
    return { ok: true, user: toLegacyUser(user) };
  }

  private getDummyHash(): Promise<string> {
    this.dummyHash ??= this.hasher.hash(randomBytes(16).toString('base64url'));
    return this.dummyHash;
  }
}

export function checkPasswordPolicy(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new DomainError(
      'weak_password',
      `A password needs ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters.`,
    );
  }
}
