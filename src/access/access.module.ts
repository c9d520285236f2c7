import { Module } from '@nestjs/common';
import { AuthKitModule } from '../authkit/authkit.module';
import { PrismaService } from '../database/prisma.service';
import type { PrismaClient } from '../generated/prisma/client';
import { RateLimiterService } from '../legacy-session/rate-limiter.service';
import { AccessMetrics } from './access-metrics';
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
  imports: [AuthKitModule],
  controllers: [AdminController],
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
    RateLimiterService,
    AdminTokenGuard,
  ],
  exports: [GrantRegistry, GrantsService, AccessMetrics, GrantStore],
})
export class AccessModule {}
