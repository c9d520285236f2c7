import { Inject, Injectable } from '@nestjs/common';
import type { Prisma, PrismaClient } from '../generated/prisma/client';
import { PrismaService } from '../database/prisma.service';
import type { LegacyUser } from '../legacy-session/legacy-user';
import { UserStatusStore } from '../legacy-status/user-status.store';

/**
 * user_links: every legacy user who completed an authorization, with the details last sent to
 * AuthKit (which keys its user on the legacy id as `external_id`). `workos_user_id` is filled
 * in by whoever first learns it (e.g. from a verified token's `sub`).
 */
@Injectable()
export class UserLinksService {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaClient) {}

  /**
   * What the legacy app said at this sign-in, newest wins: names, roles, tenants; the user is
   * active and was checked now. A known user whose roles, tenants or status differ from what was
   * recorded: every instance is told (callers of theirs are built again), as after a recheck.
   */
  async recordLogin(user: LegacyUser, at = new Date()): Promise<void> {
    await new UserStatusStore(this.prisma).record(user.id, {
      active: true,
      roles: user.roles ?? [],
      tenants: user.tenants ?? [],
    });
    const details = {
      email: user.email,
      firstName: user.firstName ?? null,
      lastName: user.lastName ?? null,
      roles: user.roles ?? [],
      tenants: (user.tenants ?? []) as unknown as Prisma.InputJsonValue,
      active: true,
      checkedAt: at,
    };
    await this.prisma.userLink.upsert({
      where: { legacyUserId: user.id },
      create: { legacyUserId: user.id, ...details, lastLoginAt: at },
      update: { ...details, lastLoginAt: at },
    });
  }
}
