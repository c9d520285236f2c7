import { Controller, Get, Header, Inject, Options, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { escapeHtml, renderPage } from '../common/html';
import { ServiceUnavailableError } from '../common/errors';
import { AuthkitMetadataService, type MetadataKind } from './auth/authkit-metadata.service';
import { allowAnyOrigin, EXPOSED_HEADERS } from './http/origin-policy';
import { MCP_SETTINGS, type McpSettings } from './mcp-settings';
import { ProtectedResourceMetadata } from './protected-resource';
import { McpToolRegistry } from './tools/tool-registry';

/** The public documents: any origin may read them (CORS *), each at its one path. */
const PUBLIC_DOCUMENTS = [
  '.well-known/oauth-protected-resource/mcp',
  '.well-known/oauth-protected-resource',
  '.well-known/oauth-authorization-server',
  '.well-known/openid-configuration',
  'docs/mcp',
];

/**
 * The discovery documents MCP clients read before they authorize, and a page for people. Public:
 * every answer (errors included) carries `Access-Control-Allow-Origin: *`, and their CORS
 * preflight is answered here.
 */
@Controller()
export class WellKnownController {
  constructor(
    @Inject(MCP_SETTINGS) private readonly settings: McpSettings,
    private readonly resource: ProtectedResourceMetadata,
    private readonly authkit: AuthkitMetadataService,
    private readonly tools: McpToolRegistry,
  ) {}

  @Options(PUBLIC_DOCUMENTS)
  preflight(@Req() req: Request, @Res() res: Response): void {
    allowAnyOrigin(req, res);
  }

  @Get('.well-known/oauth-protected-resource/mcp')
  protectedResourceForMcp(@Req() req: Request, @Res() res: Response): void {
    allowAnyOrigin(req, res);
    this.sendResource(res);
  }

  @Get('.well-known/oauth-protected-resource')
  protectedResource(@Req() req: Request, @Res() res: Response): void {
    allowAnyOrigin(req, res);
    this.sendResource(res);
  }

  /** AuthKit's own metadata, served through (cached) for clients that look for it here. */
  @Get('.well-known/oauth-authorization-server')
  oauthServer(@Req() req: Request, @Res() res: Response): Promise<void> {
    allowAnyOrigin(req, res);
    return this.sendAuthkit(res, 'oauth-authorization-server');
  }

  @Get('.well-known/openid-configuration')
  openidConfiguration(@Req() req: Request, @Res() res: Response): Promise<void> {
    allowAnyOrigin(req, res);
    return this.sendAuthkit(res, 'openid-configuration');
  }

  @Get('docs/mcp')
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'public, max-age=300')
  @Header('Access-Control-Allow-Origin', '*')
  @Header('Access-Control-Expose-Headers', EXPOSED_HEADERS)
  docs(): string {
    const s = this.settings;
    const tools = this.tools
      .all()
      .map((t) => {
        const needs = [
          ...(t.requiredScopes.length ? [`scopes: ${t.requiredScopes.join(' ')}`] : []),
          ...(t.roles.length === 1 ? [`role: ${t.roles[0]}`] : []),
          ...(t.roles.length > 1 ? [`one of the roles: ${t.roles.join(', ')}`] : []),
        ];
        return (
          `<li><code>${escapeHtml(t.name)}</code>: ${escapeHtml(t.definition.description)}` +
          (needs.length ? ` <small>(${escapeHtml(needs.join('; '))})</small>` : '') +
          '</li>'
        );
      })
      .join('');
    return renderPage({
      title: `Connect an MCP client to ${s.resourceName}`,
      body:
        `<p>MCP server URL (Streamable HTTP):<br><code>${escapeHtml(s.resourceUrl)}</code></p>` +
        `<p>Add it as a custom connector (Claude: Settings → Connectors → Add custom connector) or in ` +
        `MCP Inspector (transport "Streamable HTTP"). The client signs you in through ` +
        `<code>${escapeHtml(s.issuer ?? '(not configured)')}</code> with your usual account.</p>` +
        `<p>Tools (your client sees only the ones you may use: a tool that names roles needs one of ` +
        `them in your account):</p><ul>${tools}</ul>`,
    });
  }

  private sendResource(res: Response): void {
    const body = this.resource.json();
    if (body === undefined) {
      throw new ServiceUnavailableError(
        'mcp_not_configured',
        'The MCP endpoint is not configured (AUTHKIT_DOMAIN).',
      );
    }
    res.status(200).setHeader('Content-Type', 'application/json');
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.end(body);
  }

  private async sendAuthkit(res: Response, kind: MetadataKind): Promise<void> {
    let text: string;
    try {
      ({ text } = await this.authkit.get(kind));
    } catch (err) {
      throw new ServiceUnavailableError(
        'authkit_unavailable',
        'The authorization server metadata cannot be fetched right now; try again shortly.',
        { cause: err },
      );
    }
    res.status(200).setHeader('Content-Type', 'application/json');
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.end(text);
  }
}
