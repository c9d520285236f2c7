import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { GrantStore } from '../access/grant.store';
import type { PageCookie, PageResponse } from '../common/page-response';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { PrismaService } from '../database/prisma.service';
import type { PrismaClient } from '../generated/prisma/client';
import { BRIDGE_COOKIE_PREFIX } from '../legacy-session/cookie-header';
import { DEMO_USER } from '../legacy-session/demo-user.seeder';
import {
  localUserAccess,
  LocalUsersService,
  type LocalUserAccess,
} from '../legacy-session/local-users.service';
import { UserStatusStore } from '../legacy-status/user-status.store';
import { csrfToken, csrfTokenMatches } from '../login/login-cookies';
import { demoProblemPage } from './demo.pages';

/** This browser's secret for the CSRF tokens of the demo's forms (signed, HttpOnly, browser session). */
export const DEMO_BINDING_COOKIE = `${BRIDGE_COOKIE_PREFIX}demo`;
/** What the tokens of the demo-user forms are bound to (besides the browser's secret). */
const CSRF_SCOPE = 'demo|user-controls';
const SECRET = /^[A-Za-z0-9_-]{43}$/;

/** The demo buttons: the demo user's roles, or their status. */
export const DEMO_USER_ACTIONS = ['make-reader', 'make-admin', 'disable', 'enable'] as const;
export type DemoUserAction = (typeof DEMO_USER_ACTIONS)[number];

/** The demo user as the home page shows it, with the token its forms carry. */
export interface DemoUserView {
  email: string;
  roles: string[];
  tenants: Array<{ id: string; name: string }>;
  disabled: boolean;
  csrf: string;
}

/**
 * Demo only (`local` strategy): the home page's buttons that change the demo user as the legacy
 * app would (roles, disabled) and tell every instance, so the effect shows in whoami, at the next
 * sign-in, and on connected AI applications. Disabling also ends the user's grants.
 */
@Injectable()
export class DemoUserControls {
  private readonly status: UserStatusStore;
  private readonly grants: GrantStore;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(PrismaService) prisma: PrismaClient,
    private readonly users: LocalUsersService,
  ) {
    this.status = new UserStatusStore(prisma);
    this.grants = new GrantStore(prisma);
  }

  /**
   * The demo user now (none: not the `local` strategy, or no such user) and this browser's
   * binding cookie when it needs one.
   */
  async view(req: Request): Promise<{ user?: DemoUserView; cookies: PageCookie[] }> {
    if (this.config.legacy.strategy !== 'local') return { cookies: [] };
    const row = await this.users.findByEmail(DEMO_USER.email);
    if (!row) return { cookies: [] };
    const existing = this.binding(req);
    const binding = existing ?? randomBytes(32).toString('base64url');
    const cookies: PageCookie[] = existing ? [] : [{ name: DEMO_BINDING_COOKIE, value: binding, path: '/' }];
    const { roles, tenants, disabled } = localUserAccess(row);
    return {
      user: {
        email: row.email,
        roles,
        tenants,
        disabled,
        csrf: csrfToken(this.config.session.secret, CSRF_SCOPE, binding),
      },
      cookies,
    };
  }

  /** POST /demo/user: one button's change; back to the home page, which says what happened. */
  async apply(req: Request, form: { csrf?: unknown; action?: unknown }): Promise<PageResponse> {
    const origin = req.headers.origin;
    const sameOrigin = !origin || origin === new URL(this.config.publicUrl).origin;
    const binding = this.binding(req);
    if (
      !sameOrigin ||
      !binding ||
      !csrfTokenMatches(this.config.session.secret, CSRF_SCOPE, binding, form.csrf)
    ) {
      return {
        status: 403,
        html: demoProblemPage('This form is out of date. Reload the home page and try again.', {
          href: '/#roles',
          label: 'Back to the home page',
        }),
      };
    }
    const action = DEMO_USER_ACTIONS.find((a) => a === form.action);
    if (this.config.legacy.strategy !== 'local' || !action)
      return {
        status: 400,
        html: demoProblemPage('The demo does not know that change.', { href: '/#roles', label: 'Back' }),
      };
    await this.change(action);
    return { status: 303, redirect: `/?demo-user=${action}#roles` };
  }

  private async change(action: DemoUserAction): Promise<void> {
    const email = DEMO_USER.email;
    let user: LocalUserAccess;
    if (action === 'make-reader' || action === 'make-admin')
      user = await this.users.setRoles(email, [action === 'make-reader' ? 'reader' : 'admin']);
    else user = await this.users.setDisabled(email, action === 'disable');
    // What the legacy app (here: the user table) says now, for every instance and caller.
    await this.status.record(user.id, { active: !user.disabled, roles: user.roles, tenants: user.tenants });
    if (action === 'disable')
      await this.grants.revokeUser(user.id, { actor: 'user', actorDetail: 'demo-home-page' }, 'disable_user');
  }

  private binding(req: Request): string | undefined {
    const value = (req.signedCookies as Record<string, unknown> | undefined)?.[DEMO_BINDING_COOKIE];
    return typeof value === 'string' && SECRET.test(value) ? value : undefined;
  }
}
