import { Inject, Injectable } from '@nestjs/common';
import type { PrismaClient } from '../generated/prisma/client';
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
   * active and was checked now (a recheck claim is let go). A known user whose roles, tenants or
   * status differ from what was recorded: every instance is told (callers of theirs are built
   * again), as after a recheck (UserStatusStore.record), by a grant_revocations row of kind
   * `identity` and its NOTIFY. One statement: every part of it sees the row as it was before.
   */
  async recordLogin(user: LegacyUser, at = new Date()): Promise<void> {
    await new UserStatusStore(this.prisma).recordSignIn(user, at);
  }
}
