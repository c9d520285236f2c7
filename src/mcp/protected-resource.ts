import { Inject, Injectable } from '@nestjs/common';
import { MCP_SETTINGS, withOfflineAccess, type McpSettings } from './mcp-settings';
import { McpToolRegistry } from './tools/tool-registry';

/**
 * The RFC 9728 Protected Resource Metadata document, served at
 * /.well-known/oauth-protected-resource/mcp (path-inserted, what the 401 challenge names) and
 * at /.well-known/oauth-protected-resource (for clients that only look at the root). Both say
 * `resource` = `$PUBLIC_URL/mcp`: clients send that value verbatim as the RFC 8707 `resource`,
 * which becomes the token's `aud`.
 */
@Injectable()
export class ProtectedResourceMetadata {
  private body?: string;

  constructor(
    @Inject(MCP_SETTINGS) private readonly settings: McpSettings,
    private readonly tools: McpToolRegistry,
  ) {}

  /**
   * Every scope clients may need: the ones asked for up front and every tool's (in proxy mode the
   * upstream tools' MCP_UPSTREAM_TOOL_SCOPES); offline_access (last) only with
   * MCP_REQUEST_OFFLINE_ACCESS=true.
   */
  scopesSupported(): string[] {
    const upstream = this.settings.upstream;
    const toolScopes = upstream ? [...upstream.toolScopes.values()].flat() : this.tools.requiredScopes();
    return withOfflineAccess(
      [...this.settings.challengeScopes, ...toolScopes],
      this.settings.requestOfflineAccess,
    );
  }

  document(): Record<string, unknown> {
    return {
      resource: this.settings.resourceUrl,
      authorization_servers: [this.settings.issuer],
      scopes_supported: this.scopesSupported(),
      bearer_methods_supported: ['header'],
      resource_name: this.settings.resourceName,
      resource_documentation: this.settings.documentationUrl,
    };
  }

  /** The serialized document (built once; undefined when AUTHKIT_DOMAIN is not configured). */
  json(): string | undefined {
    if (!this.settings.issuer) return undefined;
    this.body ??= JSON.stringify(this.document());
    return this.body;
  }
}
