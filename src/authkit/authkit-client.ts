import { Inject, Injectable } from '@nestjs/common';
import { WorkOS, type UserConsentOption } from '@workos-inc/node';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import type { LegacyUser } from '../legacy-session/legacy-user';

export interface CompletionRequest {
  externalAuthId: string;
  user: LegacyUser;
  userConsentOptions?: UserConsentOption[];
}

/** The WorkOS calls the bridge makes. Tests substitute their own implementation. */
export abstract class AuthKitClient {
  /** POST /authkit/oauth2/complete, sent exactly once; rejects with the SDK's errors. */
  abstract completeOAuth2(request: CompletionRequest): Promise<{ redirectUri: string }>;
}

/**
 * The one place that talks to WorkOS through @workos-inc/node. Automatic retries are off:
 * a completion that may have landed must never be sent twice behind the person's back.
 * Settings are read from AppConfig on first use (demo mode fills them in at boot).
 */
@Injectable()
export class WorkOSAuthKitClient extends AuthKitClient {
  private client?: WorkOS;

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

  private workos(): WorkOS {
    if (this.client) return this.client;
    const { apiKey, apiUrl, clientId } = this.config.workos;
    if (!apiKey) throw Object.assign(new Error('WORKOS_API_KEY is not configured'), { status: 401 });
    const url = new URL(apiUrl);
    this.client = new WorkOS(apiKey, {
      clientId,
      apiHostname: url.hostname,
      https: url.protocol === 'https:',
      ...(url.port ? { port: Number(url.port) } : {}),
      timeout: this.config.login.completeTimeoutMs,
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
