import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { PrismaService } from '../database/prisma.service';
import type { PrismaClient } from '../generated/prisma/client';
import { UserStatusStore } from '../legacy-status/user-status.store';
import type { LegacyTenant } from './legacy-user';
import { LocalUsersService } from './local-users.service';

/** The demo's two workspaces (tenants). */
export const DEMO_TENANTS: LegacyTenant[] = [
  { id: 'acme', name: 'Acme' },
  { id: 'globex', name: 'Globex' },
];

/** The demo user: an admin in two workspaces, so AuthKit's consent page asks which one. */
export const DEMO_USER = {
  email: 'demo@example.com',
  firstName: 'Demo',
  lastName: 'User',
  roles: ['admin'],
  tenants: DEMO_TENANTS,
};

/** A second demo account (same password): a reader in one workspace, so consent asks nothing. */
export const DEMO_READER = {
  email: 'reader@example.com',
  firstName: 'Riley',
  lastName: 'Reader',
  roles: ['reader'],
  tenants: [DEMO_TENANTS[0]],
};

/**
 * Demo mode with the `local` strategy: makes sure demo@example.com and reader@example.com exist,
 * gives them a fresh password at every start and prints it once (the one password the service
 * ever prints), and puts their roles, tenants and status back as they were (the home page's demo
 * buttons change them until the next start).
 */
@Injectable()
export class DemoUserSeeder implements OnApplicationBootstrap {
  private readonly logger = new Logger('Demo');
  /** The password set at this start (for the demo's own start-up banner and tests). */
  password?: string;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly users: LocalUsersService,
    @Inject(PrismaService) private readonly prisma: PrismaClient,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.demo || this.config.legacy.strategy !== 'local') return;
    const password = randomBytes(9).toString('base64url');
    for (const user of [DEMO_USER, DEMO_READER]) await this.seed(user, password);
    this.password = password;
    this.logger.log(`Demo sign-in: ${DEMO_USER.email} / ${password}`);
  }

  private async seed(user: typeof DEMO_USER, password: string): Promise<void> {
    if (!(await this.users.findByEmail(user.email))) {
      await this.users.create({ ...user, password });
      return;
    }
    await this.users.setPassword(user.email, password);
    await this.users.setRoles(user.email, user.roles);
    await this.users.setTenants(user.email, user.tenants);
    const now = await this.users.setDisabled(user.email, false);
    // Connected before this start, perhaps with roles the demo buttons gave: as seeded again now.
    await new UserStatusStore(this.prisma).record(now.id, {
      active: true,
      roles: now.roles,
      tenants: now.tenants,
    });
  }
}
