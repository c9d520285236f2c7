import { Controller, Get, Header, HttpCode } from '@nestjs/common';

/**
 * Browsers ask every origin for /favicon.ico. An empty answer they may cache for a day, instead
 * of a 404 (and a warning in the log) on every page a person opens.
 */
@Controller()
export class FaviconController {
  @Get('favicon.ico')
  @HttpCode(204)
  @Header('Cache-Control', 'public, max-age=86400')
  favicon(): void {}
}
