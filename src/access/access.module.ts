import { Module } from '@nestjs/common';
import { AuthKitModule } from '../authkit/authkit.module';
import { PrismaService } from '../database/prisma.service';
import type { PrismaClient } from '../generated/prisma/client';
import { LegacySessionModule } from '../legacy-session/legacy-session.module';
import { AccessMetrics } from './access-metrics';
import { AccountController } from './account/account.controller';
import { AccountService } from './account/account.service';
import { AdminTokenGuard } from './admin/admin-token.guard';
import { AdminController } from './admin/admin.controller';
import { ClientNameResolver } from './client-names.service';
import { GrantRegistry } from './grant-registry.service';
import { GrantStore } from './grant.store';
import { GrantsService } from './grants.service';
import { RevocationFeed } from './revocation-feed.service';

/**
 * Access lifecycle: grants (one client's access for one legacy user), recorded the first time a
 * token of theirs is seen, checked in memory on every /mcp call, ended from the admin API, the
 * person's page or the CLI, with the news spread to every instance through the database.
 */
@Module({
  imports: [AuthKitModule, LegacySessionModule],
  controllers: [AdminController, AccountController],
  providers: [
    {
      provide: GrantStore,
      inject: [PrismaService],
      useFactory: (prisma: PrismaClient) => new GrantStore(prisma),
    },
    AccessMetrics,
    GrantRegistry,
    RevocationFeed,
    GrantsService,
    ClientNameResolver,
    AdminTokenGuard,
    AccountService,
  ],
  exports: [GrantRegistry, GrantsService, AccessMetrics, GrantStore],
})
export class AccessModule {}
