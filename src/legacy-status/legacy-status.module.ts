import { Module } from '@nestjs/common';
import { AccessModule } from '../access/access.module';
import { PrismaService } from '../database/prisma.service';
import type { PrismaClient } from '../generated/prisma/client';
import { LegacyUserClient } from './legacy-user-client';
import { UserRecheckService } from './user-recheck.service';
import { UserStatusStore } from './user-status.store';

/**
 * The legacy app as the source of truth after sign-in: active callers are rechecked at
 * LEGACY_USER_URL at most every LEGACY_USER_RECHECK_SECONDS (off the request path), changes reach
 * every instance, and users the legacy app no longer knows lose their grants.
 */
@Module({
  imports: [AccessModule],
  providers: [
    {
      provide: UserStatusStore,
      inject: [PrismaService],
      useFactory: (prisma: PrismaClient) => new UserStatusStore(prisma),
    },
    LegacyUserClient,
    UserRecheckService,
  ],
  exports: [UserRecheckService, UserStatusStore],
})
export class LegacyStatusModule {}
