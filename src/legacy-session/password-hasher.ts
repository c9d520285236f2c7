import { hash, verify } from '@node-rs/argon2';
import { Injectable } from '@nestjs/common';

/**
 * argon2id with @node-rs/argon2's defaults, which are OWASP's recommendation
 * (m=19456 KiB, t=2, p=1). Wrapped so that tests and the CLI share one definition.
 */
@Injectable()
export class PasswordHasher {
  hash(password: string): Promise<string> {
    return hash(password);
  }

  /** False for a wrong password and for a malformed stored hash alike. */
  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await verify(passwordHash, password);
    } catch {
      return false;
    }
  }
}
