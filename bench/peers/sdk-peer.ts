// Baseline "typical peer": what a user would otherwise write with the v1 MCP SDK: Express,
// the SDK's requireBearerAuth with a jose verifier, and a stateless Streamable HTTP MCP server
// (a new server + transport per request, JSON responses) with the same whoami tool.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express from 'express';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { PeerOptions, RunningPeer } from './bare-node';

export async function startSdkPeer(options: PeerOptions): Promise<RunningPeer> {
  const jwks = createRemoteJWKSet(new URL(`${options.issuer}/oauth2/jwks`));
  const verifier = {
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      try {
        const { payload } = await jwtVerify(token, jwks, {
          algorithms: ['RS256'],
          issuer: options.issuer,
          audience: options.audience,
          requiredClaims: ['exp', 'iat', 'sub'],
        });
        return {
          token,
          clientId: String(payload.client_id ?? ''),
          scopes: String(payload.scope ?? '')
            .split(' ')
            .filter(Boolean),
          expiresAt: payload.exp,
          extra: { sub: payload.sub },
        };
      } catch (err) {
        throw new InvalidTokenError((err as Error).message);
      }
    },
  };

  const app = express();
  app.use(express.json());
  app.post('/mcp', requireBearerAuth({ verifier }), async (req, res) => {
    const server = new McpServer({ name: 'sdk-peer', version: '1.0.0' });
    server.registerTool('whoami', { description: 'Who is calling' }, (extra) => ({
      content: [
        {
          type: 'text',
          text: JSON.stringify({
            sub: extra.authInfo?.extra?.sub,
            legacy_user_id: null,
            email: null,
            client_id: extra.authInfo?.clientId,
            scopes: extra.authInfo?.scopes,
          }),
        },
      ],
    }));
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });

  const http: Server = await new Promise((resolve) => {
    const s = app.listen(options.port ?? 0, '127.0.0.1', () => resolve(s));
  });
  http.keepAliveTimeout = 65_000;
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => http.close(() => resolve())),
  };
}
