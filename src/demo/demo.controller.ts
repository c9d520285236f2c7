import { Controller, Get, Header, Inject, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DemoWalkthroughError, DemoWalkthroughService } from './demo-walkthrough.service';
import { demoHomePage, demoProblemPage, demoResultPage, type DemoInfo } from './demo.pages';
import { DEMO_INFO } from './demo.tokens';

/** The demo's own pages (registered only in demo mode, by main.ts): the home page and the walk-through. */
@Controller()
export class DemoController {
  constructor(
    @Inject(DEMO_INFO) private readonly info: DemoInfo,
    private readonly walkthrough: DemoWalkthroughService,
  ) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  home(): string {
    return demoHomePage(this.info);
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
