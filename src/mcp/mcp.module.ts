import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AccessModule } from '../access/access.module';
import { LegacyStatusModule } from '../legacy-status/legacy-status.module';
import { AuthKitClient } from '../authkit/authkit-client';
import { AuthKitModule } from '../authkit/authkit.module';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { AccessTokenVerifier } from './auth/access-token-verifier';
import { AuthkitMetadataService } from './auth/authkit-metadata.service';
import { JwksKeyStore } from './auth/jwks-key-store';
import { McpAuthService } from './auth/mcp-auth.service';
import { Clock } from './clock';
import { MCP_FETCH } from './http/fetch-json';
import { McpFrontDoor } from './http/mcp-front-door';
import { McpOriginPolicy } from './http/origin-policy';
import { IdentityService } from './identity/identity.service';
import { UserDirectory } from './identity/user-directory';
import { PrismaUserLinkRepository, UserLinkRepository } from './identity/user-link.repository';
import { McpController } from './mcp.controller';
import { MCP_SETTINGS, mcpSettingsFrom } from './mcp-settings';
import { McpStartupChecks } from './mcp-startup';
import { ProtectedResourceMetadata } from './protected-resource';
import { McpEndpointService } from './protocol/mcp-endpoint.service';
import { McpServerFactory } from './protocol/mcp-server.factory';
import { UpstreamProxyService } from './proxy/upstream-proxy.service';
import { AdminOverviewTool } from './tools/admin-overview.tool';
import { ProfileTool } from './tools/profile.tool';
import { McpToolRegistry } from './tools/tool-registry';
import { WhoamiTool } from './tools/whoami.tool';
import { WellKnownController } from './well-known.controller';

/**
 * The MCP resource server: /mcp behind AuthKit access tokens, the RFC 9728 metadata, AuthKit's
 * metadata served through, identity for tools, the tool registry (@McpTool on any provider),
 * proxy mode. Reads everything from AppConfig (MCP_*, AUTHKIT_DOMAIN, WORKOS_*).
 */
@Module({
  imports: [DiscoveryModule, AuthKitModule, AccessModule, LegacyStatusModule],
  controllers: [McpController, WellKnownController],
  providers: [
    {
      provide: MCP_SETTINGS,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => mcpSettingsFrom(config),
    },
    {
      provide: MCP_FETCH,
      useValue: (input: string | URL | Request, init?: RequestInit) => fetch(input, init),
    },
    Clock,
    JwksKeyStore,
    AccessTokenVerifier,
    AuthkitMetadataService,
    IdentityService,
    { provide: UserDirectory, useExisting: AuthKitClient },
    { provide: UserLinkRepository, useClass: PrismaUserLinkRepository },
    McpAuthService,
    McpOriginPolicy,
    McpToolRegistry,
    McpServerFactory,
    UpstreamProxyService,
    McpEndpointService,
    McpFrontDoor,
    ProtectedResourceMetadata,
    McpStartupChecks,
    WhoamiTool,
    ProfileTool,
    AdminOverviewTool,
  ],
  exports: [McpToolRegistry, McpAuthService, IdentityService],
})
export class McpModule {}
