import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { RateLimiterService } from '../legacy-session/rate-limiter.service';
import { BridgeSessionService } from '../sessions/bridge-session.service';
import { LoginTransactionService } from './login-transaction.service';

const EVERY_MS = 15 * 60_000;
/** Finished or abandoned transactions are kept this long (for support questions), then dropped. */
const KEEP_TRANSACTIONS_MS = 24 * 3600_000;

/**
 * Housekeeping every 15 minutes: abandoned transactions are marked expired (an ended flow keeps
 * only the hash of its external_auth_id); old transactions, expired sessions and rate-limit
 * windows are deleted. Safe on any number of instances at once (plain updates and deletes).
 */
@Injectable()
export class LoginMaintenanceService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('LoginMaintenance');
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly transactions: LoginTransactionService,
    private readonly sessions: BridgeSessionService,
    private readonly limiter: RateLimiterService,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async sweep(now = new Date()): Promise<void> {
    try {
      await this.transactions.expireAbandoned(now);
      await this.transactions.purgeOlderThan(new Date(now.getTime() - KEEP_TRANSACTIONS_MS));
      await this.sessions.purgeExpired(now);
      await this.limiter.purgeExpired(now);
    } catch (err) {
      this.logger.warn({ err }, 'housekeeping failed; will try again');
    }
  }
}
