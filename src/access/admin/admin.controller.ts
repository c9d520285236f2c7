import { Controller, Delete, Get, HttpCode, Param, Post, Query, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { DomainError } from '../../common/errors';
import { GrantStore } from '../grant.store';
import { GrantsService, type GrantView } from '../grants.service';
import { AdminTokenGuard, adminCallerOf } from './admin-token.guard';

/** Path parameters are ids of the legacy app or of ours: printable, bounded. */
const ID = /^[\x21-\x7E]{1,255}$/;

function checkedId(value: string, what: string): string {
  if (!ID.test(value))
    throw new DomainError('invalid_id', `The ${what} must be 1-255 printable characters.`, 400);
  return value;
}

const json = (g: GrantView) => ({
  id: g.id,
  client_id: g.clientId,
  client_name: g.clientName,
  scopes: g.scopes,
  created_at: g.createdAt.toISOString(),
  last_used_at: g.lastUsedAt.toISOString(),
  revoked_at: g.revokedAt?.toISOString() ?? null,
  revoked_by: g.revokedBy,
  authkit_session: g.authkitSession,
});

/**
 * The back-office API of the legacy app: see and end a user's grants (offboarding, password
 * reset, "sign out everywhere"). Behind ADMIN_API_TOKEN (AdminTokenGuard); every call is audited.
 */
@Controller('admin')
@UseGuards(AdminTokenGuard)
export class AdminController {
  constructor(
    private readonly grants: GrantsService,
    private readonly store: GrantStore,
  ) {}

  /** `?include_revoked=true` lists ended grants too. */
  @Get('users/:legacyUserId/grants')
  async list(
    @Req() req: Request,
    @Param('legacyUserId') legacyUserId: string,
    @Query('include_revoked') includeRevoked?: string,
  ) {
    const user = checkedId(legacyUserId, 'user id');
    const grants = await this.grants.list(user, includeRevoked === 'true');
    const caller = adminCallerOf(req);
    await this.store.audit(
      { actor: 'admin-api', actorDetail: caller.fingerprint, ip: caller.ip },
      'list_grants',
      user,
      null,
      grants.length,
    );
    return { grants: grants.map(json) };
  }

  @Post('users/:legacyUserId/revoke')
  @HttpCode(200)
  async revokeUser(@Req() req: Request, @Param('legacyUserId') legacyUserId: string) {
    const caller = adminCallerOf(req);
    const revoked = await this.grants.revokeUser(checkedId(legacyUserId, 'user id'), {
      actor: 'admin-api',
      actorDetail: caller.fingerprint,
      ip: caller.ip,
    });
    return { revoked };
  }

  @Delete('grants/:id')
  @HttpCode(204)
  async revokeGrant(@Req() req: Request, @Param('id') id: string): Promise<void> {
    const caller = adminCallerOf(req);
    const request = { actor: 'admin-api' as const, actorDetail: caller.fingerprint, ip: caller.ip };
    const ended = await this.grants.revoke(checkedId(id, 'grant id'), request);
    // Ending a grant that already ended is done (idempotent); an unknown id is a mistake.
    if (!ended && !(await this.store.findById(id)))
      throw new DomainError('not_found', `There is no grant ${id}.`, 404);
  }
}
