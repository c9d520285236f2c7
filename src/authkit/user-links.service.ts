import { Inject, Injectable } from '@nestjs/common';
import type { PrismaClient } from '../generated/prisma/client';
import { PrismaService } from '../database/prisma.service';
import type { LegacyUser } from '../legacy-session/legacy-user';

/**
 * user_links: every legacy user who completed an authorization, with the details last sent to
 * AuthKit (which keys its user on the legacy id as `external_id`). `workos_user_id` is filled
 * in by whoever first learns it (e.g. from a verified token's `sub`).
 */
@Injectable()
export class UserLinksService {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaClient) {}

  async recordLogin(user: LegacyUser, at = new Date()): Promise<void> {
    const details = { email: user.email, firstName: user.firstName ?? null, lastName: user.lastName ?? null };
    await this.prisma.userLink.upsert({
      where: { legacyUserId: user.id },
      create: { legacyUserId: user.id, ...details, lastLoginAt: at },
      update: { ...details, lastLoginAt: at },
    });
  }
}
