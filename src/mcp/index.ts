/** What applications use to add MCP tools. */
export type { McpCaller } from './caller';
export { hasAnyRole, hasScopes } from './caller';
export {
  McpTool,
  McpToolError,
  type McpToolAnnotations,
  type McpToolContext,
  type McpToolOptions,
  type McpToolReturn,
} from './tools/mcp-tool.decorator';
export { McpToolRegistry } from './tools/tool-registry';
export { McpModule } from './mcp.module';
