import { Body, Controller, Get, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { CookieOptions, Request, Response } from 'express';
import type { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { AccountService, type AccountForm, type AccountResponse } from './account.service';

/** Headers of every answer of these routes: never cached (security headers: src/common/security-headers.ts). */
const PAGE_HEADERS: Record<string, string> = {
  'Cache-Control': 'no-store',
  Pragma: 'no-cache',
};

/**
 * The person's page: the AI applications connected to their account, and the Revoke buttons.
 * Speaks only HTTP: each route hands the request to one AccountService method and writes the
 * page or redirect it answers.
 */
@Controller()
export class AccountController {
  constructor(
    private readonly account: AccountService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('account/connections')
  async connections(@Req() req: Request, @Res() res: Response, @Query() query: Record<string, unknown>) {
    this.send(res, await this.account.connections({ req, res }, query ?? {}));
  }

  @Post('account/connections/:id/revoke')
  async revoke(
    @Req() req: Request,
    @Res() res: Response,
    @Param('id') id: string,
    @Body() form: AccountForm,
  ) {
    this.send(res, await this.account.revoke({ req, res }, id, form ?? {}));
  }

  @Post('account/sign-in')
  async signIn(@Req() req: Request, @Res() res: Response, @Body() form: AccountForm) {
    this.send(res, await this.account.signIn({ req, res }, form ?? {}));
  }

  @Post('account/sign-out')
  async signOut(@Req() req: Request, @Res() res: Response, @Body() form: AccountForm) {
    this.send(res, await this.account.signOut({ req, res }, form ?? {}));
  }

  /** `local`: lends this page the Login URI's session (its cookie is only sent under /auth). */
  @Get('auth/account-session')
  async adoptSession(@Req() req: Request, @Res() res: Response) {
    this.send(res, await this.account.adoptSession({ req, res }));
  }

  private send(res: Response, out: AccountResponse): void {
    const base: CookieOptions = {
      httpOnly: true,
      sameSite: 'lax',
      secure: this.config.secureCookies,
      signed: true,
    };
    for (const c of out.cookies ?? []) {
      if (c.value === undefined) res.clearCookie(c.name, { ...base, path: c.path, signed: false });
      else
        res.cookie(c.name, c.value, {
          ...base,
          path: c.path,
          ...(c.maxAgeMs ? { maxAge: c.maxAgeMs } : {}),
        });
    }
    res.set({ ...PAGE_HEADERS, ...out.headers });
    if (out.redirect) {
      res.redirect(out.status, out.redirect);
      return;
    }
    res
      .status(out.status)
      .type('html')
      .send(out.html ?? '');
  }
}
