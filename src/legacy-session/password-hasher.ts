import { hash, verify } from '@node-rs/argon2';
import { Inject, Injectable, Optional } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { ConcurrencyGate } from './sign-in-capacity';

/** PASSWORD_HASH_CONCURRENCY / PASSWORD_HASH_QUEUE when unset (and for the CLI, which has no app). */
export const PASSWORD_HASHING_DEFAULTS = { concurrency: 2, queue: 32 } as const;

/**
 * argon2id with @node-rs/argon2's defaults, which are OWASP's recommendation
 * (m=19456 KiB, t=2, p=1). Wrapped so that tests and the CLI share one definition.
 *
 * Checks of a password (what anyone on the internet can ask for) pass through a gate: at most
 * `concurrency` at once (each holds ~19 MiB and a libuv thread, which DNS lookups and file access
 * share), at most `queue` waiting; beyond that SignInBusyError (429 "busy") at once, so a flood
 * cannot pile up work and memory without bound. Hashing a new password (users:add, the demo
 * seeder, the one dummy hash for unknown emails) is not gated: nobody outside can ask for it.
 */
@Injectable()
export class PasswordHasher {
  readonly gate: ConcurrencyGate;

  constructor(@Optional() @Inject(APP_CONFIG) config?: Pick<AppConfig, 'login'>) {
    const { concurrency, queue } = config?.login.passwordHashing ?? PASSWORD_HASHING_DEFAULTS;
    this.gate = new ConcurrencyGate(concurrency, queue);
  }

  hash(password: string): Promise<string> {
    return hash(password);
  }

  /** False for a wrong password and for a malformed stored hash alike; SignInBusyError when full. */
  verify(passwordHash: string, password: string): Promise<boolean> {
    return this.gate.run(async () => {
      try {
        return await verify(passwordHash, password);
      } catch {
        return false;
      }
    });
  }
}
