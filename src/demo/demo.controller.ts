import { Body, Controller, Get, Inject, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { sendPage } from '../common/page-response';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { DEMO_USER_ACTIONS, DemoUserControls } from './demo-user-controls.service';
import { DemoWalkthroughError, DemoWalkthroughService } from './demo-walkthrough.service';
import { demoHomePage, demoProblemPage, demoResultPage, type DemoInfo } from './demo.pages';
import { DEMO_INFO } from './demo.tokens';

/** The demo's own pages (registered only in demo mode, by main.ts): the home page and the walk-through. */
@Controller()
export class DemoController {
  constructor(
    @Inject(DEMO_INFO) private readonly info: DemoInfo,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly walkthrough: DemoWalkthroughService,
    private readonly demoUser: DemoUserControls,
  ) {}

  @Get()
  async home(@Req() req: Request, @Res() res: Response, @Query('demo-user') done: unknown): Promise<void> {
    const { user, cookies } = await this.demoUser.view(req);
    const html = demoHomePage(this.info, {
      demoUser: user,
      done: DEMO_USER_ACTIONS.find((a) => a === done),
    });
    sendPage(res, { status: 200, html, cookies }, { secure: this.config.secureCookies, defaultPath: '/' });
  }

  /** The home page's demo-user buttons (roles, disable/enable). */
  @Post('demo/user')
  async changeDemoUser(@Req() req: Request, @Res() res: Response, @Body() form: Record<string, unknown>) {
    const out = await this.demoUser.apply(req, form ?? {});
    sendPage(res, out, { secure: this.config.secureCookies, defaultPath: '/' });
  }

  @Get('demo/start')
  start(@Res() res: Response): void {
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(302, this.walkthrough.start());
  }

  @Get('demo/callback')
  async callback(
    @Query() query: Record<string, unknown>,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    res.setHeader('Cache-Control', 'no-store');
    res.type('html');
    try {
      // This process's own /mcp, over loopback: what an MCP client on this machine would call.
      const { whoami, claims, refreshable } = await this.walkthrough.finish(
        query,
        `http://127.0.0.1:${req.socket.localPort}/mcp`,
      );
      res.status(200).send(demoResultPage(whoami, claims, refreshable));
    } catch (err) {
      if (!(err instanceof DemoWalkthroughError)) throw err; // the one error page, with a request id
      res.status(400).send(demoProblemPage(err.message));
    }
  }
}
