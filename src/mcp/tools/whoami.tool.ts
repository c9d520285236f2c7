import { Injectable } from '@nestjs/common';
import type { McpCaller } from '../caller';
import { McpTool } from './mcp-tool.decorator';

/** Built into every deployment (INTERFACE.md): who the bridge thinks is calling. */
@Injectable()
export class WhoamiTool {
  @McpTool({
    name: 'whoami',
    title: 'Who am I',
    description:
      'Returns who is calling, as the bridge established it: the AuthKit user id (sub), the user id in the ' +
      'legacy app, the email, the OAuth client, the granted scopes, the roles in the legacy app and the ' +
      'tenant this application may act in.',
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  })
  whoami(_input: Record<string, never>, caller: McpCaller) {
    return {
      sub: caller.sub,
      legacy_user_id: caller.legacyUserId,
      email: caller.email,
      client_id: caller.clientId,
      scopes: caller.scopes,
      roles: caller.roles,
      tenant: caller.tenant ? { id: caller.tenant.id, name: caller.tenant.name } : null,
    };
  }
}
