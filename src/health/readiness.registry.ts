import { Injectable } from '@nestjs/common';

/** A readiness check another module contributes (AuthKit metadata, JWKS, …). */
export interface ReadinessCheck {
  name: string;
  /** Resolves when ready; rejects with an Error whose message says why not. */
  check(): Promise<Record<string, unknown> | void>;
}

/** Modules register their readiness checks here; /readyz runs them all. */
@Injectable()
export class ReadinessRegistry {
  private readonly checks: ReadinessCheck[] = [];

  register(check: ReadinessCheck): void {
    this.checks.push(check);
  }

  all(): readonly ReadinessCheck[] {
    return this.checks;
  }
}
