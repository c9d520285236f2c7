import { randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { LocalUser, PrismaClient } from '../generated/prisma/client';
import { ConflictError, DomainError, NotFoundError } from '../common/errors';
import { PrismaService } from '../database/prisma.service';
import { withPrismaErrors } from '../database/prisma-errors';
import type { LegacyUser } from './legacy-user';
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
}

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

const EMAIL = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u;
/** Control characters never name an account (and PostgreSQL text cannot even hold NUL). */
const CONTROL = /\p{Cc}/u;

export function toLegacyUser(u: LocalUser): LegacyUser {
  return {
    id: u.id,
    email: u.email,
    ...(u.firstName ? { firstName: u.firstName } : {}),
    ...(u.lastName ? { lastName: u.lastName } : {}),
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
    const passwordHash = await this.hasher.hash(input.password);
    return withPrismaErrors(() =>
      this.prisma.localUser.create({
        data: {
          id: `usr_${randomUUID().replace(/-/g, '')}`,
          email,
          passwordHash,
          firstName: input.firstName?.trim() || null,
          lastName: input.lastName?.trim() || null,
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
  async setDisabled(email: string, disabled: boolean): Promise<{ id: string }> {
    return this.updateByEmail(email, { disabled });
  }

  private async updateByEmail(
    email: string,
    data: { passwordHash?: string; disabled?: boolean },
  ): Promise<{ id: string }> {
    const rows = await this.prisma.localUser.updateManyAndReturn({
      where: { email: normalizeEmail(email) },
      data,
      select: { id: true },
    });
    if (rows.length === 0)
      throw new NotFoundError(`There is no user with the email ${normalizeEmail(email)}.`);
    return rows[0];
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
