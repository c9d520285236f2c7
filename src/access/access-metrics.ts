import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';

/** The `reason` label of refused tokens: a closed set. */
export type GrantRefusal = 'revoked' | 'unlinked';

/** Grants created and ended, and tokens refused because their grant ended. */
@Injectable()
export class AccessMetrics {
  private readonly created: Counter<'born'>;
  private readonly revoked: Counter<'by'>;
  private readonly refused: Counter<'reason'>;
  private readonly sessions: Counter<'outcome'>;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.created = new Counter({
      name: 'grants_created_total',
      help: 'Grants recorded (first token of an authorization seen); born="revoked" when a user-wide revocation already covered it',
      labelNames: ['born'] as const,
      registers,
    });
    this.revoked = new Counter({
      name: 'grants_revoked_total',
      help: 'Grants ended, by who asked (admin-api, user, cli, legacy-recheck)',
      labelNames: ['by'] as const,
      registers,
    });
    this.refused = new Counter({
      name: 'mcp_tokens_refused_total',
      help: 'Verified access tokens refused at /mcp because their grant ended (revoked) or their user has no legacy identity (unlinked)',
      labelNames: ['reason'] as const,
      registers,
    });
    this.sessions = new Counter({
      name: 'authkit_session_revocations_total',
      help: 'Best-effort ends of the AuthKit session behind a revoked grant, by outcome',
      labelNames: ['outcome'] as const,
      registers,
    });
  }

  grantCreated(bornRevoked: boolean): void {
    this.created.inc({ born: bornRevoked ? 'revoked' : 'active' });
  }

  grantsRevoked(by: string, count: number): void {
    if (count > 0) this.revoked.inc({ by }, count);
  }

  tokenRefused(reason: GrantRefusal): void {
    this.refused.inc({ reason });
  }

  sessionEnded(outcome: string): void {
    this.sessions.inc({ outcome });
  }
}
