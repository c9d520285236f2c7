import { Injectable } from '@nestjs/common';
import { Server } from '@modelcontextprotocol/server';
import type { McpCaller } from '../caller';
import { McpToolRegistry } from '../tools/tool-registry';

export const SERVER_INFO = { name: 'connect-bridge', version: '0.1.0' } as const;

/**
 * Builds the SDK's low-level `Server` for one request (the SDK's stateless idiom: a fresh
 * instance per exchange, so nothing leaks between callers), bound to the caller: tools/list
 * shows what the caller's scopes and roles allow, tools/call runs the registered handler with
 * the caller (or refuses it, see McpToolRegistry.call). The SDK does the protocol (initialize and version negotiation, ping, method dispatch, schema
 * validation of requests and results); about 30 µs per instance.
 */
@Injectable()
export class McpServerFactory {
  constructor(private readonly tools: McpToolRegistry) {}

  create(caller: McpCaller): Server {
    const server = new Server(SERVER_INFO, {
      capabilities: { tools: { listChanged: false } },
      instructions: 'Tools of this organization, called as the signed-in user. whoami shows who that is.',
    });
    server.setRequestHandler('tools/list', () => this.tools.listFor(caller));
    server.setRequestHandler('tools/call', (request, ctx) =>
      this.tools.call(request.params.name, request.params.arguments, caller, {
        signal: ctx.mcpReq.signal,
        requestId: ctx.mcpReq.id,
      }),
    );
    return server;
  }
}
