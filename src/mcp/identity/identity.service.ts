import { Injectable, Logger } from '@nestjs/common';
import type { LegacyTenant } from '../../legacy-session/legacy-user';
import { Clock } from '../clock';
import { UserDirectory } from './user-directory';
import { UserLinkRepository, type LinkedUser } from './user-link.repository';

export interface CallerIdentity {
  legacyUserId: string | null;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  /** Roles in the legacy app, as last heard (sign-in or recheck). */
  roles: readonly string[];
  /** Tenants in the legacy app, as last heard. */
  tenants: readonly LegacyTenant[];
  /** False once the legacy app said the user is gone or disabled. */
  active: boolean;
}

export interface IdentityLookup {
  identity: CallerIdentity;
  /** False when WorkOS or the database could not be asked: the answer must not be kept long. */
  definitive: boolean;
}

interface Entry extends IdentityLookup {
  expiresAt: number;
}

const UNKNOWN: CallerIdentity = Object.freeze({
  legacyUserId: null,
  email: null,
  firstName: null,
  lastName: null,
  roles: Object.freeze([]),
  tenants: Object.freeze([]),
  active: true,
});

/**
 * Maps a WorkOS user id (a token's `sub`) to the legacy user: first the user link the login
 * bridge recorded (user_links.workos_user_id), else the WorkOS user's `external_id` (which the
 * completion call set to the legacy id), which is then written into user_links so the next
 * instance finds it in the database. Answers are kept in memory (found: 10 min, unknown: 1 min,
 * lookup failed: 5 s) and concurrent lookups of one user share one query, so the hot path makes
 * no database or network call once a user has been seen.
 */
@Injectable()
export class IdentityService {
  static readonly FOUND_TTL_MS = 10 * 60_000;
  static readonly UNKNOWN_TTL_MS = 60_000;
  static readonly FAILED_TTL_MS = 5_000;
  static readonly MAX_ENTRIES = 50_000;

  private readonly logger = new Logger('McpIdentity');
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<IdentityLookup>>();

  constructor(
    private readonly links: UserLinkRepository,
    private readonly directory: UserDirectory,
    private readonly clock: Clock,
  ) {}

  /** The cached answer, if any and still fresh (no I/O). */
  peek(sub: string): IdentityLookup | undefined {
    const entry = this.cache.get(sub);
    if (entry && entry.expiresAt > this.clock.now()) return entry;
    return undefined;
  }

  resolve(sub: string): Promise<IdentityLookup> {
    const cached = this.peek(sub);
    if (cached) return Promise.resolve(cached);
    let pending = this.inflight.get(sub);
    if (!pending) {
      pending = this.lookup(sub).finally(() => this.inflight.delete(sub));
      this.inflight.set(sub, pending);
    }
    return pending;
  }

  /** Forgets what is known about a user (or everyone), e.g. after a link changed. */
  forget(sub?: string): void {
    if (sub === undefined) this.cache.clear();
    else this.cache.delete(sub);
  }

  /** Forgets what is known about a legacy user (their roles or status changed). */
  forgetLegacyUser(legacyUserId: string): void {
    for (const [sub, entry] of this.cache)
      if (entry.identity.legacyUserId === legacyUserId) this.cache.delete(sub);
  }

  private async lookup(sub: string): Promise<IdentityLookup> {
    let result: IdentityLookup;
    let ttl: number;
    try {
      const linked = await this.links.findByWorkosUserId(sub);
      if (linked) {
        result = { identity: fromLink(linked), definitive: true };
        ttl = IdentityService.FOUND_TTL_MS;
      } else {
        const user = await this.directory.getUser(sub);
        if (!user) {
          result = { identity: UNKNOWN, definitive: true };
          ttl = IdentityService.UNKNOWN_TTL_MS;
        } else if (!user.externalId) {
          // A WorkOS user that did not come through the bridge: no legacy identity.
          result = {
            identity: { ...UNKNOWN, email: user.email, firstName: user.firstName, lastName: user.lastName },
            definitive: true,
          };
          ttl = IdentityService.UNKNOWN_TTL_MS;
        } else {
          const fromWorkos: LinkedUser = {
            legacyUserId: user.externalId,
            email: user.email,
            firstName: user.firstName,
            lastName: user.lastName,
            roles: [],
            tenants: [],
            active: true,
          };
          result = { identity: fromLink(await this.persist(sub, fromWorkos)), definitive: true };
          ttl = IdentityService.FOUND_TTL_MS;
        }
      }
    } catch (err) {
      this.logger.warn(`identity lookup for a WorkOS user failed: ${(err as Error).message}`);
      result = { identity: UNKNOWN, definitive: false };
      ttl = IdentityService.FAILED_TTL_MS;
    }
    this.remember(sub, result, ttl);
    return result;
  }

  /** Writes the link; a failure to write is logged, never fatal (the answer is still right). */
  private async persist(sub: string, user: LinkedUser): Promise<LinkedUser> {
    try {
      return await this.links.link(sub, user);
    } catch (err) {
      this.logger.warn(`could not record the user link: ${(err as Error).message}`);
      return user;
    }
  }

  private remember(sub: string, lookup: IdentityLookup, ttl: number): void {
    if (this.cache.size >= IdentityService.MAX_ENTRIES) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.delete(sub);
    this.cache.set(sub, { ...lookup, expiresAt: this.clock.now() + ttl });
  }
}

function fromLink(link: LinkedUser): CallerIdentity {
  return {
    legacyUserId: link.legacyUserId,
    email: link.email,
    firstName: link.firstName,
    lastName: link.lastName,
    roles: Object.freeze([...link.roles]),
    tenants: Object.freeze(link.tenants.map((t) => Object.freeze({ ...t }))),
    active: link.active,
  };
}
