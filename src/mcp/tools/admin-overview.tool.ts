import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { McpCaller } from '../caller';
import { McpTool } from './mcp-tool.decorator';

const AdminOverviewOutput = z.object({
  signed_in_as: z.object({
    sub: z.string(),
    legacy_user_id: z.string().nullable(),
    email: z.string().nullable(),
    name: z.string().nullable(),
  }),
  roles: z.array(z.string()),
  tenant: z.object({ id: z.string(), name: z.string() }).nullable(),
  client_id: z.string().nullable(),
  scopes: z.array(z.string()),
  access_expires_at: z.string(),
});

/**
 * The example of a tool only some roles may call (copy it to write your own): `roles` lists the
 * legacy app's roles, any one of which lets the caller in. A caller with none of them does not
 * see the tool in tools/list, and calling it anyway gets an error result naming the roles
 * ("This tool needs one of the roles: admin. You have: reader."). Roles come from the legacy
 * app (at sign-in, then every LEGACY_USER_RECHECK_SECONDS); the tenant is the one this AI
 * application may act in. A real admin tool would scope what it reads or changes to
 * `caller.tenant`.
 */
@Injectable()
export class AdminOverviewTool {
  @McpTool({
    name: 'admin_overview',
    title: 'Admin overview',
    description:
      'For administrators of the legacy app: who is signed in, their roles, the tenant this application ' +
      'acts in, the OAuth client and scopes, and when the access ends.',
    outputSchema: AdminOverviewOutput,
    roles: ['admin'],
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  })
  adminOverview(_input: Record<string, never>, caller: McpCaller): z.infer<typeof AdminOverviewOutput> {
    const name = [caller.firstName, caller.lastName].filter(Boolean).join(' ');
    return {
      signed_in_as: {
        sub: caller.sub,
        legacy_user_id: caller.legacyUserId,
        email: caller.email,
        name: name || null,
      },
      roles: [...caller.roles],
      tenant: caller.tenant ? { id: caller.tenant.id, name: caller.tenant.name } : null,
      client_id: caller.clientId,
      scopes: [...caller.scopes],
      access_expires_at: new Date(caller.expiresAt * 1000).toISOString(),
    };
  }
}
