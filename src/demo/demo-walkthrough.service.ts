import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { decodeJwt } from 'jose';
import { demoAuthorizeUrl } from './demo-authkit';
import { DEMO_INFO } from './demo.tokens';
import type { DemoInfo } from './demo.pages';

const PENDING_TTL_MS = 10 * 60_000;
const MAX_PENDING = 200;

export class DemoWalkthroughError extends Error {}

export interface WalkthroughResult {
  whoami: unknown;
  claims: Record<string, unknown>;
  refreshable: boolean;
}

/**
 * The demo's "try it in this browser": plays the MCP client for one person. Starts an authorization
 * (PKCE, state) for the pre-registered demo client, and at the callback exchanges the code and calls
 * this bridge's own /mcp with the token, exactly as an MCP client would. Demo mode only.
 */
@Injectable()
export class DemoWalkthroughService {
  /** state → PKCE verifier, for authorizations in flight (one process: the demo). */
  private readonly pending = new Map<string, { verifier: string; at: number }>();

  constructor(@Inject(DEMO_INFO) private readonly info: DemoInfo) {}

  /** The AuthKit authorize URL to send the browser to. */
  start(): string {
    this.sweep();
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(16).toString('base64url');
    this.pending.set(state, { verifier, at: Date.now() });
    return demoAuthorizeUrl({
      issuer: this.info.authkitUrl,
      redirectUri: this.info.callbackUrl,
      resource: this.info.mcpUrl,
      state,
      codeVerifier: verifier,
    });
  }

  /** The callback: code → token → whoami on `mcpUrl` (this very process, over loopback). */
  async finish(query: Record<string, unknown>, mcpUrl: string): Promise<WalkthroughResult> {
    const state = typeof query.state === 'string' ? query.state : '';
    const pending = this.pending.get(state);
    this.pending.delete(state);
    if (!pending || Date.now() - pending.at > PENDING_TTL_MS)
      throw new DemoWalkthroughError(
        'This sign-in link is unknown or expired (the demo forgets them after 10 minutes or a restart).',
      );
    if (typeof query.error === 'string') throw new DemoWalkthroughError(`AuthKit answered ${query.error}.`);
    if (typeof query.code !== 'string') throw new DemoWalkthroughError('AuthKit sent no code.');

    const tokenRes = await reach('AuthKit', `${this.info.authkitUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: query.code,
        redirect_uri: this.info.callbackUrl,
        client_id: this.info.clientId,
        code_verifier: pending.verifier,
        resource: this.info.mcpUrl,
      }),
      signal: AbortSignal.timeout(5000),
    });
    const tokens = (await tokenRes.json().catch(() => ({}))) as Record<string, unknown>;
    if (!tokenRes.ok || typeof tokens.access_token !== 'string')
      throw new DemoWalkthroughError(
        `The token request was refused (${tokenRes.status} ${String(tokens.error ?? '')}).`,
      );

    const mcpRes = await reach('The MCP server', mcpUrl, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${tokens.access_token}`,
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'MCP-Protocol-Version': '2025-06-18',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'whoami', arguments: {} },
      }),
      signal: AbortSignal.timeout(5000),
    });
    const text = await mcpRes.text();
    // Streamable HTTP may answer as JSON or as one server-sent event.
    const json = text.trimStart().startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '');
    const rpc = parseJson(json) as { result?: { content?: Array<{ text?: string }> } } | undefined;
    const answer = rpc?.result?.content?.[0]?.text;
    if (!mcpRes.ok || !answer) throw new DemoWalkthroughError(`The MCP server answered ${mcpRes.status}.`);
    // whoami answers JSON; anything else is the tool's error result, shown as it is.
    const whoami = parseJson(answer);
    if (whoami === undefined) throw new DemoWalkthroughError(`whoami answered: ${answer}`);
    return {
      whoami,
      claims: decodeJwt(tokens.access_token) as Record<string, unknown>,
      refreshable: typeof tokens.refresh_token === 'string',
    };
  }

  private sweep(): void {
    const now = Date.now();
    for (const [state, p] of this.pending) if (now - p.at > PENDING_TTL_MS) this.pending.delete(state);
    while (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
  }
}

/** fetch, with a failure to get any answer (refused, timed out) said plainly rather than as a 500. */
async function reach(who: string, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    throw new DemoWalkthroughError(
      `${who} could not be reached (${err instanceof Error ? err.message : String(err)}).`,
    );
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
