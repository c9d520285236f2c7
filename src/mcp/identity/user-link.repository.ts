import { Inject, Injectable } from '@nestjs/common';
import { PrismaService } from '../../database/prisma.service';
import type { PrismaClient } from '../../generated/prisma/client';
import { rolesFrom, tenantsFrom, type LegacyTenant } from '../../legacy-session/legacy-user';

export interface LinkedUser {
  legacyUserId: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  roles: string[];
  tenants: LegacyTenant[];
  /** False once the legacy app said the user is gone or disabled. */
  active: boolean;
}

const SELECT = {
  legacyUserId: true,
  email: true,
  firstName: true,
  lastName: true,
  roles: true,
  tenants: true,
  active: true,
} as const;

function toLinked(row: {
  legacyUserId: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  roles: string[];
  tenants: unknown;
  active: boolean;
}): LinkedUser {
  return { ...row, roles: rolesFrom(row.roles), tenants: tenantsFrom(row.tenants) };
}

/** The user_links table, as the MCP module uses it. Tests substitute their own implementation. */
export abstract class UserLinkRepository {
  abstract findByWorkosUserId(workosUserId: string): Promise<LinkedUser | null>;
  /**
   * Records that `workosUserId` is the legacy user `legacyUserId`: sets workos_user_id on the
   * row the login bridge wrote, or creates the row from the WorkOS user when there is none.
   * Details the login bridge recorded are never overwritten.
   */
  abstract link(workosUserId: string, user: LinkedUser): Promise<LinkedUser>;
}

@Injectable()
export class PrismaUserLinkRepository extends UserLinkRepository {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaClient) {
    super();
  }

  async findByWorkosUserId(workosUserId: string): Promise<LinkedUser | null> {
    const row = await this.prisma.userLink.findUnique({ where: { workosUserId }, select: SELECT });
    return row ? toLinked(row) : null;
  }

  async link(workosUserId: string, user: LinkedUser): Promise<LinkedUser> {
    const row = await this.prisma.userLink.upsert({
      where: { legacyUserId: user.legacyUserId },
      create: {
        legacyUserId: user.legacyUserId,
        workosUserId,
        email: user.email,
        firstName: user.firstName,
        lastName: user.lastName,
      },
      update: { workosUserId },
      select: SELECT,
    });
    return toLinked(row);
  }
}
