import { Inject, Injectable } from '@nestjs/common';
import { NotFoundException, type UserConsentOption, type WorkOS } from '@workos-inc/node';
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

/** The WorkOS calls the bridge makes. Tests substitute their own implementation. */
export abstract class AuthKitClient {
  /** POST /authkit/oauth2/complete, sent exactly once; rejects with the SDK's errors. */
  abstract completeOAuth2(request: CompletionRequest): Promise<{ redirectUri: string }>;
  /** The user, or null when WorkOS does not know the id; rejects when WorkOS cannot be asked. */
  abstract getUser(workosUserId: string): Promise<WorkOSUserView | null>;
}

/**
 * The one place that talks to WorkOS through @workos-inc/node. Automatic retries are off:
 * a completion that may have landed must never be sent twice behind the person's back.
 * Settings are read from AppConfig on first use (demo mode fills them in at boot).
 */
@Injectable()
export class WorkOSAuthKitClient extends AuthKitClient {
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
    // A lookup runs while an MCP request waits: a short time limit and one retry.
    this.lookupClient ??= createWorkOS(this.config.workos, { timeoutMs: 5000, maxRetries: 1 });
    try {
      const user = await this.lookupClient.userManagement.getUser(workosUserId);
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
