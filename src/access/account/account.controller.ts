import { Body, Controller, Get, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { sendPage } from '../../common/page-response';
import { ACCOUNT_COOKIE_PATH } from './account-cookies';
import type { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { AccountService, type AccountForm, type AccountResponse } from './account.service';

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
    sendPage(res, out, { secure: this.config.secureCookies, defaultPath: ACCOUNT_COOKIE_PATH });
  }
}
