import { Body, Controller, Get, Inject, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { sendPage } from '../common/page-response';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { COOKIE_PATH } from './login-cookies';
import { LoginService, type LoginForm, type LoginResponse } from './login.service';

/**
 * The Login URI and the steps of the flow. Speaks only HTTP: each route hands the request to
 * one LoginService method and writes the page or redirect it answers.
 */
@Controller('auth/login')
export class LoginController {
  constructor(
    private readonly login: LoginService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get()
  async start(@Req() req: Request, @Res() res: Response, @Query('external_auth_id') id: unknown) {
    this.send(res, await this.login.start({ req, res }, id));
  }

  @Get('resume')
  async resume(@Req() req: Request, @Res() res: Response, @Query('tx') tx: unknown) {
    this.send(res, await this.login.resume({ req, res }, tx));
  }

  @Post('connect')
  async connect(@Req() req: Request, @Res() res: Response, @Body() form: LoginForm) {
    this.send(res, await this.login.connect({ req, res }, form ?? {}));
  }

  @Post('confirm')
  async confirm(@Req() req: Request, @Res() res: Response, @Body() form: LoginForm) {
    this.send(res, await this.login.confirm({ req, res }, form ?? {}));
  }

  @Post('local')
  async signIn(@Req() req: Request, @Res() res: Response, @Body() form: LoginForm) {
    this.send(res, await this.login.signIn({ req, res }, form ?? {}));
  }

  @Post('retry')
  async retry(@Req() req: Request, @Res() res: Response, @Body() form: LoginForm) {
    this.send(res, await this.login.retry({ req, res }, form ?? {}));
  }

  private send(res: Response, out: LoginResponse): void {
    sendPage(res, out, { secure: this.config.secureCookies, defaultPath: COOKIE_PATH });
  }
}
