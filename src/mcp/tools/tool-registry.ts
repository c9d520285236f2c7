import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import {
  isCallToolResult,
  ProtocolError,
  ProtocolErrorCode,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { ROLE } from '../../legacy-session/legacy-user';
import { hasAnyRole, hasScopes, type McpCaller } from '../caller';
import {
  MCP_TOOL_METADATA,
  McpToolError,
  type McpToolContext,
  type McpToolHandler,
  type McpToolOptions,
} from './mcp-tool.decorator';

export interface RegisteredMcpTool {
  readonly name: string;
  readonly requiredScopes: readonly string[];
  /** Legacy roles, any one of which the caller needs; empty: no role needed. */
  readonly roles: readonly string[];
  readonly inputSchema: z.ZodObject;
  readonly outputSchema?: z.ZodObject;
  /** The `tools/list` entry, built once. */
  readonly definition: Tool;
  readonly handler: McpToolHandler<never>;
}

const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const NO_ARGUMENTS = z.object({});

/**
 * Every MCP tool of the application: methods marked with @McpTool on any NestJS provider,
 * found at startup, plus tools registered in code. Validates definitions once (unique names,
 * scope and role syntax, zod object schemas converted to JSON Schema once), lists to a caller
 * only the tools it may call (its scopes and one of its roles), refuses the others, validates
 * arguments and runs handlers.
 */
@Injectable()
export class McpToolRegistry implements OnModuleInit {
  private readonly logger = new Logger('McpTools');
  private readonly tools = new Map<string, RegisteredMcpTool>();
  private discovered = false;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    this.discover();
  }

  /** Finds @McpTool methods on every provider (once). */
  discover(): void {
    if (this.discovered) return;
    this.discovered = true;
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      const prototype = Object.getPrototypeOf(instance) as object | null;
      if (!prototype) continue;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const fn = (instance as Record<string, unknown>)[method];
        if (typeof fn !== 'function') continue;
        const options = this.reflector.get<McpToolOptions | undefined>(MCP_TOOL_METADATA, fn);
        if (options) this.register(options, (fn as McpToolHandler<Record<string, unknown>>).bind(instance));
      }
    }
  }

  /** Adds a tool; throws a TypeError on a bad or duplicate definition (a programming mistake). */
  register<Input extends z.ZodObject>(
    options: McpToolOptions<Input>,
    handler: McpToolHandler<z.infer<Input>>,
  ): RegisteredMcpTool {
    const { name } = options;
    if (!TOOL_NAME.test(name)) throw new TypeError(`MCP tool name "${name}" must match ${TOOL_NAME}`);
    if (this.tools.has(name)) throw new TypeError(`MCP tool "${name}" is registered twice`);
    if (!options.description?.trim()) throw new TypeError(`MCP tool "${name}" needs a description`);
    const requiredScopes = Object.freeze([...new Set(options.requiredScopes ?? [])]);
    for (const scope of requiredScopes) {
      if (!SCOPE_TOKEN.test(scope))
        throw new TypeError(`MCP tool "${name}": "${scope}" is not an OAuth scope`);
    }
    const roles = Object.freeze([...new Set(options.roles ?? [])]);
    if (options.roles !== undefined && roles.length === 0) {
      // roles: [] would let everyone in, which is rarely what it was written for.
      throw new TypeError(`MCP tool "${name}": roles is empty (leave it out for a tool anyone may call)`);
    }
    for (const role of roles) {
      if (typeof role !== 'string' || !ROLE.test(role))
        throw new TypeError(
          `MCP tool "${name}": ${JSON.stringify(role)} is not a role name (1-100 printable characters, no spaces or commas)`,
        );
    }
    const inputSchema = options.inputSchema ?? NO_ARGUMENTS;
    if (!(inputSchema instanceof z.ZodObject))
      throw new TypeError(`MCP tool "${name}": inputSchema must be z.object(…)`);
    if (options.outputSchema && !(options.outputSchema instanceof z.ZodObject)) {
      throw new TypeError(`MCP tool "${name}": outputSchema must be z.object(…)`);
    }
    const definition: Tool = {
      name,
      ...(options.title ? { title: options.title } : {}),
      description: options.description,
      inputSchema: jsonSchemaOf(inputSchema, 'input') as Tool['inputSchema'],
      ...(options.outputSchema
        ? { outputSchema: jsonSchemaOf(options.outputSchema, 'output') as Tool['outputSchema'] }
        : {}),
      ...(options.annotations ? { annotations: options.annotations } : {}),
    };
    const tool: RegisteredMcpTool = {
      name,
      requiredScopes,
      roles,
      inputSchema,
      outputSchema: options.outputSchema,
      definition,
      handler: handler as McpToolHandler<never>,
    };
    this.tools.set(name, tool);
    return tool;
  }

  get(name: string): RegisteredMcpTool | undefined {
    return this.tools.get(name);
  }

  all(): RegisteredMcpTool[] {
    return [...this.tools.values()];
  }

  /** Every scope some tool requires. */
  requiredScopes(): string[] {
    return [...new Set(this.all().flatMap((t) => t.requiredScopes))];
  }

  /** True when this caller may call the tool: it has every scope the tool needs and one of its roles. */
  allows(tool: RegisteredMcpTool, caller: Pick<McpCaller, 'scopes' | 'roles'>): boolean {
    return hasAnyRole(caller, tool.roles) && hasScopes(caller, tool.requiredScopes);
  }

  /** tools/list: only what this caller may call (scopes and roles). */
  listFor(caller: Pick<McpCaller, 'scopes' | 'roles'>): { tools: Tool[] } {
    const tools: Tool[] = [];
    for (const tool of this.tools.values()) {
      if (this.allows(tool, caller)) tools.push(tool.definition);
    }
    return { tools };
  }

  /** tools/call. Unknown tool: a JSON-RPC error; bad arguments or a failing tool: an error result. */
  async call(
    name: string,
    args: unknown,
    caller: McpCaller,
    context: McpToolContext,
  ): Promise<CallToolResult> {
    const tool = this.tools.get(name);
    if (!tool) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
    if (!hasAnyRole(caller, tool.roles)) {
      // Roles first: signing in again cannot fix this, so no scope challenge should send the
      // client there (the HTTP layer skips its 403 for such a call). An error result, which the
      // model reads, in the same shape on the direct path and through the SDK Server.
      return errorResult(missingRoleText(tool.roles, caller.roles));
    }
    if (!hasScopes(caller, tool.requiredScopes)) {
      // The HTTP layer answers 403 before getting here; this is the belt to those braces.
      return errorResult(`The tool ${name} needs the scopes: ${tool.requiredScopes.join(' ')}.`);
    }
    const parsed = tool.inputSchema.safeParse(args ?? {});
    if (!parsed.success) {
      return errorResult(`Invalid arguments for tool ${name}:\n${z.prettifyError(parsed.error)}`);
    }
    let value: unknown;
    try {
      value = await tool.handler(parsed.data as never, caller, context);
    } catch (err) {
      if (err instanceof McpToolError) return errorResult(err.message);
      this.logger.error({ err, tool: name }, 'MCP tool failed');
      return errorResult(`The tool ${name} failed. The error has been logged.`);
    }
    const [result, valid] = toResult(value, tool);
    // A result toResult built itself is a CallToolResult by construction; a tool's own is checked.
    if (valid) return result;
    if (!isCallToolResult(result)) {
      // A programming mistake in the tool: say so plainly rather than with the SDK's schema dump.
      this.logger.error({ tool: name }, 'MCP tool returned a result that is not an MCP CallToolResult');
      return errorResult(`The tool ${name} failed. The error has been logged.`);
    }
    return result;
  }
}

function jsonSchemaOf(schema: z.ZodObject, io: 'input' | 'output'): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

/** The refusal of a call whose caller has none of the tool's roles. */
export function missingRoleText(required: readonly string[], held: readonly string[]): string {
  const have = held.length ? `You have: ${held.join(', ')}.` : 'You have none.';
  return `This tool needs one of the roles: ${required.join(', ')}. ${have}`;
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/**
 * The result of a tool's return value, and whether it is valid by construction: a string or JSON
 * value becomes one text block with a string text (plus structuredContent when it is a plain
 * object), which the SDK's schema check (~4 µs a call) would always pass; a tool's own
 * CallToolResult (or a value JSON cannot write) is checked by the caller.
 */
function toResult(value: unknown, tool: RegisteredMcpTool): [CallToolResult, boolean] {
  if (typeof value === 'string') return [{ content: [{ type: 'text', text: value }] }, true];
  if (value && typeof value === 'object' && Array.isArray((value as { content?: unknown }).content)) {
    return [value as CallToolResult, false];
  }
  const text = JSON.stringify(value ?? null) as string | undefined;
  const valid = typeof text === 'string';
  if (tool.outputSchema && value && typeof value === 'object') {
    const result = { content: [{ type: 'text', text }], structuredContent: value } as CallToolResult;
    return [result, valid && isPlainRecord(value)];
  }
  return [{ content: [{ type: 'text', text }] } as CallToolResult, valid];
}

function isPlainRecord(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && !Array.isArray(value);
}
