// Baseline "floor": a bare node:http server that verifies the bearer token with jose (the same
// JWKS, issuer and audience checks as the bridge) and answers the same JSON-RPC result for
// tools/call whoami. Roughly the least any Node server can do for a verified call.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

export interface PeerOptions {
  issuer: string;
  audience: string;
  port?: number;
  /**
   * Remember a verified token by its exact string until its `exp` (the true floor of a verified
   * call: what any server must do at the least, a string lookup per call once a token was seen).
   */
  cacheVerified?: boolean;
}

export interface RunningPeer {
  url: string;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startBareNodePeer(options: PeerOptions): Promise<RunningPeer> {
  const jwks = createRemoteJWKSet(new URL(`${options.issuer}/oauth2/jwks`));
  const verified = new Map<string, { payload: JWTPayload; until: number }>();
  const server: Server = createServer(async (req, res) => {
    try {
      const auth = req.headers.authorization ?? '';
      const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      let payload: JWTPayload;
      try {
        const hit = options.cacheVerified ? verified.get(token) : undefined;
        if (hit && hit.until > Date.now()) payload = hit.payload;
        else {
          ({ payload } = await jwtVerify(token, jwks, {
            algorithms: ['RS256'],
            issuer: options.issuer,
            audience: options.audience,
            requiredClaims: ['exp', 'iat', 'sub'],
          }));
          if (options.cacheVerified) verified.set(token, { payload, until: (payload.exp as number) * 1000 });
        }
      } catch {
        res.writeHead(401, {
          'WWW-Authenticate': 'Bearer error="invalid_token"',
          'Content-Type': 'application/json',
        });
        res.end('{"jsonrpc":"2.0","error":{"code":-32001,"message":"invalid token"},"id":null}');
        return;
      }
      const body = JSON.parse(await readBody(req)) as { id: unknown; method: string };
      const text = JSON.stringify({
        sub: payload.sub,
        legacy_user_id: null,
        email: null,
        client_id: payload.client_id,
        scopes: String(payload.scope ?? '').split(' '),
      });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: body.id, result: { content: [{ type: 'text', text }] } }));
    } catch {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end('{"jsonrpc":"2.0","error":{"code":-32700,"message":"parse error"},"id":null}');
    }
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
