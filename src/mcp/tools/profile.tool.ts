import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { McpCaller } from '../caller';
import { McpTool } from './mcp-tool.decorator';

const FIELDS = ['legacy_user_id', 'email', 'first_name', 'last_name', 'org_id'] as const;

const ProfileInput = z.object({
  fields: z
    .array(z.enum(FIELDS))
    .min(1)
    .optional()
    .describe('Which fields to return (default: all of them).'),
});

const ProfileOutput = z.object({
  legacy_user_id: z.string().nullable().optional(),
  email: z.string().nullable().optional(),
  first_name: z.string().nullable().optional(),
  last_name: z.string().nullable().optional(),
  org_id: z.string().nullable().optional(),
});

/**
 * The example of a scoped tool (copy it to write your own): a zod input schema, an output
 * schema, and required scopes. A token without `profile` and `email` gets a 403
 * insufficient_scope challenge naming both, and does not see the tool in tools/list.
 */
@Injectable()
export class ProfileTool {
  @McpTool({
    name: 'get_profile',
    title: 'My profile',
    description:
      "Returns the caller's profile as the legacy app knows it: legacy user id, email, names, organization.",
    inputSchema: ProfileInput,
    outputSchema: ProfileOutput,
    requiredScopes: ['profile', 'email'],
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  })
  getProfile(input: z.infer<typeof ProfileInput>, caller: McpCaller) {
    const all: Record<(typeof FIELDS)[number], string | null> = {
      legacy_user_id: caller.legacyUserId,
      email: caller.email,
      first_name: caller.firstName,
      last_name: caller.lastName,
      org_id: caller.orgId,
    };
    const fields = input.fields ?? FIELDS;
    return Object.fromEntries(fields.map((f) => [f, all[f]]));
  }
}
