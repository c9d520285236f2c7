import { Injectable, Logger } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { ProtocolError } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { McpCaller } from '../caller';
import { AdminOverviewTool } from './admin-overview.tool';
import { McpTool, McpToolError } from './mcp-tool.decorator';
import { ProfileTool } from './profile.tool';
import { McpToolRegistry } from './tool-registry';
import { WhoamiTool } from './whoami.tool';

const caller = (
  scopes: string[] = [],
  roles: string[] = [],
  tenant: McpCaller['tenant'] = null,
): McpCaller => ({
  grantId: 'grant_1',
  roles,
  tenant,
  sub: 'user_1',
  legacyUserId: 'legacy-1',
  email: 'ada@example.com',
  firstName: 'Ada',
  lastName: 'Lovelace',
  clientId: 'client_1',
  orgId: 'org_1',
  scopes,
  expiresAt: 0,
  claims: {},
});
const ctx = { signal: new AbortController().signal, requestId: 1 };

const Input = z.object({ text: z.string().min(1), times: z.number().int().min(1).max(3).default(1) });

@Injectable()
class EchoTools {
  calls = 0;

  @McpTool({ name: 'echo', description: 'Echoes text', inputSchema: Input, requiredScopes: ['echo:use'] })
  echo(input: z.infer<typeof Input>, who: McpCaller) {
    this.calls++;
    return `${who.legacyUserId}: ${input.text.repeat(input.times)}`;
  }

  @McpTool({ name: 'explode', description: 'Fails' })
  explode() {
    throw new Error('secret database detail');
  }

  @McpTool({
    name: 'audit',
    description: 'Needs a scope and one of two roles',
    requiredScopes: ['audit:read'],
    roles: ['admin', 'auditor', 'admin'],
  })
  audit(_input: Record<string, never>, who: McpCaller) {
    this.calls++;
    return `audited by ${who.roles.join(' ')}`;
  }

  @McpTool({ name: 'refuse', description: 'Fails politely' })
  refuse() {
    throw new McpToolError('That invoice does not exist.');
  }

  notATool() {
    return 'ignored';
  }
}

describe('McpToolRegistry', () => {
  let registry: McpToolRegistry;
  let echo: EchoTools;

  beforeEach(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [DiscoveryModule],
      providers: [McpToolRegistry, EchoTools, WhoamiTool, ProfileTool, AdminOverviewTool],
    }).compile();
    await moduleRef.init();
    // compile() installs Nest's testing logger, which prints the errors these tests provoke.
    Logger.overrideLogger(false);
    registry = moduleRef.get(McpToolRegistry);
    echo = moduleRef.get(EchoTools);
  });

  it('finds @McpTool methods on providers, with JSON Schemas made from zod', () => {
    expect(
      registry
        .all()
        .map((t) => t.name)
        .sort(),
    ).toEqual(['admin_overview', 'audit', 'echo', 'explode', 'get_profile', 'refuse', 'whoami']);
    expect(registry.get('echo')!.definition).toEqual({
      name: 'echo',
      description: 'Echoes text',
      inputSchema: {
        type: 'object',
        properties: {
          text: { type: 'string', minLength: 1 },
          times: { type: 'integer', minimum: 1, maximum: 3, default: 1 },
        },
        required: ['text'],
      },
    });
    expect(registry.get('whoami')!.definition.inputSchema).toEqual({ type: 'object', properties: {} });
    expect(registry.requiredScopes().sort()).toEqual(['audit:read', 'echo:use', 'email', 'profile']);
    expect(registry.get('audit')!.roles).toEqual(['admin', 'auditor']);
    expect(registry.get('admin_overview')!.roles).toEqual(['admin']);
    expect(registry.get('whoami')!.roles).toEqual([]);
    // Roles are not advertised in the tool definition (tools/list only hides what a caller may not use).
    expect(registry.get('audit')!.definition).not.toHaveProperty('roles');
  });

  it('lists only the tools the caller has the scopes for', () => {
    const names = (scopes: string[]) =>
      registry
        .listFor(caller(scopes))
        .tools.map((t) => t.name)
        .sort();
    expect(names([])).toEqual(['explode', 'refuse', 'whoami']);
    expect(names(['profile'])).toEqual(['explode', 'refuse', 'whoami']);
    expect(names(['profile', 'email', 'echo:use'])).toEqual([
      'echo',
      'explode',
      'get_profile',
      'refuse',
      'whoami',
    ]);
  });

  it('lists a tool that names roles only to callers with its scopes and one of its roles', () => {
    const names = (scopes: string[], roles: string[]) =>
      registry
        .listFor(caller(scopes, roles))
        .tools.map((t) => t.name)
        .filter((n) => n === 'audit' || n === 'admin_overview')
        .sort();
    expect(names([], [])).toEqual([]);
    expect(names(['audit:read'], [])).toEqual([]);
    expect(names(['audit:read'], ['reader'])).toEqual([]);
    expect(names([], ['admin'])).toEqual(['admin_overview']); // audit still lacks its scope
    expect(names(['audit:read'], ['auditor'])).toEqual(['audit']);
    expect(names(['audit:read'], ['reader', 'admin'])).toEqual(['admin_overview', 'audit']);
    // Role names are compared exactly, as the legacy app spells them.
    expect(names(['audit:read'], ['Admin', 'admins'])).toEqual([]);
  });

  it('refuses a caller without one of the roles with an error result naming them, without running the tool', async () => {
    expect(await registry.call('audit', {}, caller(['audit:read'], ['reader']), ctx)).toEqual({
      content: [
        { type: 'text', text: 'This tool needs one of the roles: admin, auditor. You have: reader.' },
      ],
      isError: true,
    });
    expect(await registry.call('admin_overview', {}, caller([], ['reader', 'billing']), ctx)).toEqual({
      content: [
        { type: 'text', text: 'This tool needs one of the roles: admin. You have: reader, billing.' },
      ],
      isError: true,
    });
    expect(await registry.call('admin_overview', {}, caller(), ctx)).toEqual({
      content: [{ type: 'text', text: 'This tool needs one of the roles: admin. You have none.' }],
      isError: true,
    });
    expect(echo.calls).toBe(0);
  });

  it('checks the role before the scopes (re-authorizing gives scopes, never roles)', async () => {
    const noRoleNoScope = await registry.call('audit', {}, caller([], ['reader']), ctx);
    expect((noRoleNoScope.content[0] as { text: string }).text).toBe(
      'This tool needs one of the roles: admin, auditor. You have: reader.',
    );
    const roleNoScope = await registry.call('audit', {}, caller([], ['auditor']), ctx);
    expect(roleNoScope).toEqual({
      content: [{ type: 'text', text: 'The tool audit needs the scopes: audit:read.' }],
      isError: true,
    });
    expect(echo.calls).toBe(0);
    expect(await registry.call('audit', {}, caller(['audit:read'], ['auditor']), ctx)).toEqual({
      content: [{ type: 'text', text: 'audited by auditor' }],
    });
    expect(echo.calls).toBe(1);
  });

  it('runs a tool with validated input and the caller', async () => {
    const result = await registry.call('echo', { text: 'hi', times: 2 }, caller(['echo:use']), ctx);
    expect(result).toEqual({ content: [{ type: 'text', text: 'legacy-1: hihi' }] });
  });

  it.each([
    [undefined, /text/],
    [{}, /text/],
    [{ text: '' }, /text/],
    [{ text: 'x', times: 4 }, /times/],
    [{ text: 'x', times: 1.5 }, /times/],
    [[], /expected object/],
    ['x', /expected object/],
  ])('answers invalid arguments %j with an error result, without running the tool', async (args, message) => {
    const result = await registry.call('echo', args, caller(['echo:use']), ctx);
    expect(result.isError).toBe(true);
    expect((result.content[0] as { text: string }).text).toMatch(message);
    expect(echo.calls).toBe(0);
  });

  it('drops unknown argument keys (zod objects strip them)', async () => {
    const result = await registry.call('echo', { text: 'x', extra: true }, caller(['echo:use']), ctx);
    expect(result).toEqual({ content: [{ type: 'text', text: 'legacy-1: x' }] });
  });

  it('answers an unknown tool with a JSON-RPC invalid-params error', async () => {
    await expect(registry.call('nope', {}, caller(), ctx)).rejects.toBeInstanceOf(ProtocolError);
    await expect(registry.call('nope', {}, caller(), ctx)).rejects.toMatchObject({ code: -32602 });
  });

  it('never runs a tool for a caller without its scopes', async () => {
    const result = await registry.call('echo', { text: 'x' }, caller([]), ctx);
    expect(result.isError).toBe(true);
    expect(echo.calls).toBe(0);
  });

  it("hides an unexpected error's details, passes an McpToolError's message on", async () => {
    const hidden = await registry.call('explode', {}, caller(), ctx);
    expect(hidden).toEqual({
      content: [{ type: 'text', text: 'The tool explode failed. The error has been logged.' }],
      isError: true,
    });
    const shown = await registry.call('refuse', {}, caller(), ctx);
    expect(shown).toEqual({
      content: [{ type: 'text', text: 'That invoice does not exist.' }],
      isError: true,
    });
  });

  it('turns a result that is not an MCP CallToolResult into an error result', async () => {
    registry.register({ name: 'bogus', description: 'Returns unknown content' }, () => ({
      content: [{ type: 'hologram' }],
    }));
    expect(await registry.call('bogus', {}, caller(), ctx)).toEqual({
      content: [{ type: 'text', text: 'The tool bogus failed. The error has been logged.' }],
      isError: true,
    });
  });

  it('returns structured content for tools that declare an output schema', async () => {
    const result = await registry.call(
      'get_profile',
      { fields: ['email', 'org_id'] },
      caller(['profile', 'email']),
      ctx,
    );
    expect(result).toEqual({
      content: [{ type: 'text', text: '{"email":"ada@example.com","org_id":"org_1"}' }],
      structuredContent: { email: 'ada@example.com', org_id: 'org_1' },
    });
  });

  it('whoami answers the INTERFACE.md fields', async () => {
    const result = await registry.call('whoami', {}, caller(['openid']), ctx);
    expect(JSON.parse((result.content[0] as { text: string }).text)).toEqual({
      sub: 'user_1',
      legacy_user_id: 'legacy-1',
      email: 'ada@example.com',
      client_id: 'client_1',
      scopes: ['openid'],
      roles: [],
      tenant: null,
    });
    const withRoles = await registry.call(
      'whoami',
      {},
      caller(['openid'], ['admin', 'reader'], { id: 't1', name: 'Acme' }),
      ctx,
    );
    expect(JSON.parse((withRoles.content[0] as { text: string }).text)).toMatchObject({
      roles: ['admin', 'reader'],
      tenant: { id: 't1', name: 'Acme' },
    });
  });

  it('admin_overview (the example role-gated tool) answers who, roles and tenant to an admin', async () => {
    const admin = { ...caller(['openid'], ['admin'], { id: 't1', name: 'Acme' }), expiresAt: 1_800_000_000 };
    const result = await registry.call('admin_overview', {}, admin, ctx);
    const expected = {
      signed_in_as: {
        sub: 'user_1',
        legacy_user_id: 'legacy-1',
        email: 'ada@example.com',
        name: 'Ada Lovelace',
      },
      roles: ['admin'],
      tenant: { id: 't1', name: 'Acme' },
      client_id: 'client_1',
      scopes: ['openid'],
      access_expires_at: '2027-01-15T08:00:00.000Z',
    };
    expect(result).toEqual({
      content: [{ type: 'text', text: JSON.stringify(expected) }],
      structuredContent: expected,
    });
  });

  it.each([
    [{ name: 'bad name', description: 'x' }, /must match/],
    [{ name: 'x'.repeat(129), description: 'x' }, /must match/],
    [{ name: 'whoami', description: 'x' }, /registered twice/],
    [{ name: 'ok', description: '' }, /needs a description/],
    [{ name: 'ok', description: 'x', requiredScopes: ['has space'] }, /not an OAuth scope/],
    [{ name: 'ok', description: 'x', requiredScopes: ['quo"te'] }, /not an OAuth scope/],
    [{ name: 'ok', description: 'x', inputSchema: z.string() }, /z.object/],
    [{ name: 'ok', description: 'x', roles: [] }, /roles is empty/],
    [{ name: 'ok', description: 'x', roles: ['has space'] }, /not a role name/],
    [{ name: 'ok', description: 'x', roles: ['a,b'] }, /not a role name/],
    [{ name: 'ok', description: 'x', roles: [''] }, /not a role name/],
    [{ name: 'ok', description: 'x', roles: ['r'.repeat(101)] }, /not a role name/],
    [{ name: 'ok', description: 'x', roles: ['tab\there'] }, /not a role name/],
    [{ name: 'ok', description: 'x', roles: ['admin', 7] }, /7 is not a role name/],
  ])('refuses the definition %j', (options, message) => {
    expect(() => registry.register(options as never, () => 'x')).toThrow(message);
  });
});
