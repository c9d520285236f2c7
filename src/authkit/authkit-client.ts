import { Inject, Injectable, Logger } from '@nestjs/common';
import { NotFoundException, type Session, type UserConsentOption, type WorkOS } from '@workos-inc/node';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import type { LegacyUser } from '../legacy-session/legacy-user';
import { createWorkOS } from './workos-sdk';

export interface CompletionRequest {
  externalAuthId: string;
  user: LegacyUser;
  userConsentOptions?: UserConsentOption[];
}

/** A WorkOS user as the bridge needs it. */
export interface WorkOSUserView {
  id: string;
  email: string;
  /** The legacy user id, as sent to the completion API. */
  externalId: string | null;
  firstName: string | null;
  lastName: string | null;
}

/** What became of the AuthKit session behind a revoked grant (best effort; recorded on the grant). */
export type AuthkitSessionOutcome = 'revoked' | 'not_found' | 'failed' | 'skipped';

/** The WorkOS calls the bridge makes. Tests substitute their own implementation. */
export abstract class AuthKitClient {
  /** POST /authkit/oauth2/complete, sent exactly once; rejects with the SDK's errors. */
  abstract completeOAuth2(request: CompletionRequest): Promise<{ redirectUri: string }>;
  /** The user, or null when WorkOS does not know the id; rejects when WorkOS cannot be asked. */
  abstract getUser(workosUserId: string): Promise<WorkOSUserView | null>;
  /**
   * Ends the AuthKit session `sessionId` of the user (listSessions, then revokeSession). Never
   * rejects: `not_found` when the user has no such active session, `failed` when WorkOS could not
   * be asked or refused.
   */
  abstract endSession(workosUserId: string, sessionId: string): Promise<AuthkitSessionOutcome>;
}

/** How many pages of sessions (100 each) endSession looks through for the session. */
const SESSION_PAGES = 10;

/**
 * The one place that talks to WorkOS through @workos-inc/node. Automatic retries are off:
 * a completion that may have landed must never be sent twice behind the person's back.
 * Settings are read from AppConfig on first use (demo mode fills them in at boot).
 */
@Injectable()
export class WorkOSAuthKitClient extends AuthKitClient {
  private readonly logger = new Logger(WorkOSAuthKitClient.name);
  private client?: WorkOS;
  private lookupClient?: WorkOS;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    super();
  }

  async completeOAuth2(request: CompletionRequest): Promise<{ redirectUri: string }> {
    const { redirectUri } = await this.workos().connect.completeOAuth2({
      externalAuthId: request.externalAuthId,
      user: {
        id: request.user.id,
        email: request.user.email,
        ...(request.user.firstName ? { firstName: request.user.firstName } : {}),
        ...(request.user.lastName ? { lastName: request.user.lastName } : {}),
        ...(request.user.metadata ? { metadata: request.user.metadata } : {}),
      },
      ...(request.userConsentOptions?.length ? { userConsentOptions: request.userConsentOptions } : {}),
    });
    return { redirectUri };
  }

  async getUser(workosUserId: string): Promise<WorkOSUserView | null> {
    try {
      const user = await this.lookup().userManagement.getUser(workosUserId);
      return {
        id: user.id,
        email: user.email,
        externalId: user.externalId ?? null,
        firstName: user.firstName ?? null,
        lastName: user.lastName ?? null,
      };
    } catch (err) {
      if (err instanceof NotFoundException) return null;
      throw err;
    }
  }

  async endSession(workosUserId: string, sessionId: string): Promise<AuthkitSessionOutcome> {
    try {
      const workos = this.lookup();
      const session = await this.findSession(workos, workosUserId, sessionId);
      if (session?.status !== 'active') return 'not_found';
      await workos.userManagement.revokeSession({ sessionId });
      return 'revoked';
    } catch (err) {
      if (err instanceof NotFoundException) return 'not_found';
      // The SDK's errors carry no secrets; only their kind and status are logged.
      const e = err as { name?: string; status?: number };
      this.logger.warn(
        `ending an AuthKit session failed: ${e.name ?? 'Error'}${e.status ? ` (${e.status})` : ''}`,
      );
      return 'failed';
    }
  }

  /** The user's session `sessionId`, looked for in at most SESSION_PAGES pages of 100. */
  private async findSession(
    workos: WorkOS,
    workosUserId: string,
    sessionId: string,
  ): Promise<Session | undefined> {
    let after: string | undefined;
    for (let page = 0; page < SESSION_PAGES; page++) {
      const list = await workos.userManagement.listSessions(workosUserId, {
        limit: 100,
        ...(after ? { after } : {}),
      });
      const found = list.data.find((s) => s.id === sessionId);
      if (found) return found;
      after = list.listMetadata?.after ?? undefined;
      if (!after) return undefined;
    }
    return undefined;
  }

  /** Calls made while a request waits (lookups, ending a session): 5 s and one retry. */
  private lookup(): WorkOS {
    this.lookupClient ??= createWorkOS(this.config.workos, { timeoutMs: 5000, maxRetries: 1 });
    return this.lookupClient;
  }

  private workos(): WorkOS {
    this.client ??= createWorkOS(this.config.workos, {
      timeoutMs: this.config.login.completeTimeoutMs,
      maxRetries: 0,
    });
    return this.client;
  }
}

/** The completion's redirect_uri is followed only to the AuthKit domain's origin. */
export function isAllowedRedirect(
  uri: string,
  authkitDomain: string | undefined,
  production: boolean,
): boolean {
  if (!authkitDomain) return false;
  let target: URL;
  try {
    target = new URL(uri);
  } catch {
    return false;
  }
  if (target.protocol !== 'https:' && (production || target.protocol !== 'http:')) return false;
  return target.origin === new URL(authkitDomain).origin;
}
