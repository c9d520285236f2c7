import { Module } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { BridgeSessionService } from '../sessions/bridge-session.service';
import { DemoUserSeeder } from './demo-user.seeder';
import { LEGACY_PASSPORT, LegacyAuthenticator } from './legacy-authenticator';
import { buildLegacyPassport } from './legacy-passport.factory';
import { LocalLoginService } from './local-login.service';
import { LocalUsersService } from './local-users.service';
import { PasswordHasher } from './password-hasher';
import { RateLimiterService } from './rate-limiter.service';

/** The legacy side of the login: Passport strategies and the services that decide for them. */
@Module({
  providers: [
    PasswordHasher,
    LocalUsersService,
    RateLimiterService,
    BridgeSessionService,
    LocalLoginService,
    {
      provide: LEGACY_PASSPORT,
      inject: [APP_CONFIG, LocalLoginService],
      useFactory: (config: AppConfig, localLogin: LocalLoginService) =>
        buildLegacyPassport(config, localLogin),
    },
    LegacyAuthenticator,
    DemoUserSeeder,
  ],
  exports: [LegacyAuthenticator, LocalUsersService, BridgeSessionService, RateLimiterService, DemoUserSeeder],
})
export class LegacySessionModule {}
