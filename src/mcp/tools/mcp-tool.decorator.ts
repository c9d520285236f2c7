import { SetMetadata } from '@nestjs/common';
import type { z } from 'zod';
import type { McpCaller } from '../caller';

export const MCP_TOOL_METADATA = 'connect-bridge:mcp-tool';

/** Hints for clients about a tool's behaviour (MCP `ToolAnnotations`). */
export interface McpToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export interface McpToolOptions<Input extends z.ZodObject = z.ZodObject> {
  /** Unique, `[A-Za-z0-9_.-]`, at most 128 characters. */
  name: string;
  title?: string;
  /** What the tool does, for the model and for people choosing tools. */
  description: string;
  /** A zod object: validated before the handler runs; advertised as JSON Schema. Default: no arguments. */
  inputSchema?: Input;
  /** When set, results are also returned as `structuredContent` and advertised as `outputSchema`. */
  outputSchema?: z.ZodObject;
  /**
   * OAuth scopes the token must carry. A token without them gets a 403 `insufficient_scope`
   * challenge naming them (so clients can step up), and tools/list hides the tool from it.
   */
  requiredScopes?: readonly string[];
  /**
   * Roles in the legacy app, any one of which the caller must have (`McpCaller.roles`); checked
   * besides `requiredScopes`. A caller without any of them does not see the tool in tools/list,
   * and a call gets an error result naming the roles (a tool error, not a 403: signing in again
   * gives no roles). Role names as the legacy app spells them (1-100 printable characters, no
   * spaces or commas). Leave it out for a tool everyone may call.
   */
  roles?: readonly string[];
  annotations?: McpToolAnnotations;
}

/** Per-call context besides the caller. */
export interface McpToolContext {
  /** Aborted when the client goes away or cancels. */
  signal: AbortSignal;
  /** The JSON-RPC request id. */
  requestId: string | number;
}

/**
 * What a handler may return: a string (one text block), a plain object (JSON text, plus
 * `structuredContent` when an outputSchema is declared) or a full MCP CallToolResult
 * (`{ content: [...] }`).
 */
export type McpToolReturn = string | Record<string, unknown> | { content: unknown[]; isError?: boolean };

export type McpToolHandler<Input = Record<string, unknown>> = (
  input: Input,
  caller: McpCaller,
  context: McpToolContext,
) => McpToolReturn | Promise<McpToolReturn>;

/**
 * Marks a method of a NestJS provider as an MCP tool. The method receives the validated input,
 * the caller (see McpCaller) and a context:
 *
 * ```ts
 * const Input = z.object({ id: z.string() });
 * @Injectable()
 * export class InvoiceTools {
 *   @McpTool({ name: 'get_invoice', description: 'One invoice', inputSchema: Input, requiredScopes: ['invoices:read'] })
 *   async getInvoice(input: z.infer<typeof Input>, caller: McpCaller) { … }
 *
 *   @McpTool({ name: 'void_invoice', description: 'Voids an invoice', inputSchema: Input, roles: ['admin', 'billing'] })
 *   async voidInvoice(input: z.infer<typeof Input>, caller: McpCaller) { … }
 * }
 * ```
 * Register the class as a provider in any module of the application; the MCP module finds it.
 */
export function McpTool<Input extends z.ZodObject>(options: McpToolOptions<Input>): MethodDecorator {
  return SetMetadata(MCP_TOOL_METADATA, options);
}

/** Thrown by a tool to report a failure the caller may see (its message is returned as is). */
export class McpToolError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'McpToolError';
  }
}
