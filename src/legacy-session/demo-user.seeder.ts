import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { LocalUsersService } from './local-users.service';

export const DEMO_USER = { email: 'demo@example.com', firstName: 'Demo', lastName: 'User' };

/**
 * Demo mode with the `local` strategy: makes sure demo@example.com exists, gives it a fresh
 * password at every start and prints it once (the one password the service ever prints).
 */
@Injectable()
export class DemoUserSeeder implements OnApplicationBootstrap {
  private readonly logger = new Logger('Demo');
  /** The password set at this start (for the demo's own start-up banner and tests). */
  password?: string;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly users: LocalUsersService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.demo || this.config.legacy.strategy !== 'local') return;
    const password = randomBytes(9).toString('base64url');
    if (await this.users.findByEmail(DEMO_USER.email))
      await this.users.setPassword(DEMO_USER.email, password);
    else await this.users.create({ ...DEMO_USER, password });
    this.password = password;
    this.logger.log(`Demo sign-in: ${DEMO_USER.email} / ${password}`);
  }
}
