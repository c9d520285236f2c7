import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { ReadinessRegistry } from '../health/readiness.registry';
import { AuthkitMetadataService } from './auth/authkit-metadata.service';
import { JwksKeyStore } from './auth/jwks-key-store';
import { Clock } from './clock';
import { MCP_SETTINGS, type McpSettings } from './mcp-settings';

/**
 * Readiness checks (/readyz) and the startup self-check:
 * - `authkit_metadata`: AuthKit's metadata can be fetched and its `issuer` equals AUTHKIT_DOMAIN
 *   byte for byte (down, with the reason, on a mismatch);
 * - `authkit_jwks`: a key set is held (a stale set with a failed refresh is still "up", and says so).
 * At boot both are run in the background (boot never waits for AuthKit), and a loud warning is
 * logged when MCP_AUDIENCE accepts the bare client id.
 */
@Injectable()
export class McpStartupChecks implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger('Mcp');

  constructor(
    @Inject(MCP_SETTINGS) private readonly settings: McpSettings,
    private readonly readiness: ReadinessRegistry,
    private readonly metadata: AuthkitMetadataService,
    private readonly keys: JwksKeyStore,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    if (!this.settings.issuer) return;
    this.readiness.register({ name: 'authkit_metadata', check: () => this.metadata.checkIssuer() });
    this.readiness.register({ name: 'authkit_jwks', check: () => this.checkKeys() });
  }

  onApplicationBootstrap(): void {
    const s = this.settings;
    if (!s.issuer) {
      this.logger.warn('AUTHKIT_DOMAIN is not set: /mcp answers 503 until it is configured.');
      return;
    }
    for (const warning of audienceWarnings(s)) this.logger.warn(warning);
    this.metadata.checkIssuer().then(
      () => this.logger.log(`AuthKit issuer ${s.issuer} confirmed by its metadata`),
      (err: Error) => this.logger.error(`AuthKit self-check failed: ${err.message}`),
    );
    this.keys.refresh().catch(() => undefined);
  }

  private async checkKeys(): Promise<Record<string, unknown>> {
    if (!this.keys.hasKeys()) await this.keys.refresh();
    const { keys, ageSeconds, lastError } = this.keys.status();
    if (ageSeconds !== undefined && ageSeconds * 1000 > this.settings.jwksMaxAgeMs) await this.keys.refresh();
    return {
      keys,
      ageSeconds,
      ...(lastError ? { stale: true, lastError } : {}),
      checkedAt: new Date(this.clock.now()).toISOString(),
    };
  }
}

/** Misconfigurations of MCP_AUDIENCE that let the wrong tokens in or keep the right ones out. */
export function audienceWarnings(s: Pick<McpSettings, 'audiences' | 'resourceUrl' | 'workos'>): string[] {
  const warnings: string[] = [];
  const clientId = s.workos.clientId;
  if (clientId && s.audiences.includes(clientId)) {
    warnings.push(
      `!!! MCP_AUDIENCE accepts the bare client id "${clientId}". AuthKit puts that in the aud of EVERY token of ` +
        'the environment when no resource indicator is configured, so tokens issued to any application are ' +
        'accepted here. Configure the resource indicator in the WorkOS dashboard (Connect → Configuration) as ' +
        `"${s.resourceUrl}" and remove the client id from MCP_AUDIENCE.`,
    );
  }
  if (!s.audiences.includes(s.resourceUrl)) {
    warnings.push(
      `MCP_AUDIENCE does not include ${s.resourceUrl}, the resource MCP clients ask tokens for: their tokens will be refused.`,
    );
  }
  return warnings;
}
