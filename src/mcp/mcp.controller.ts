import { All, Controller, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { MCP_PATH } from './http/deferred-body-error';
import { McpEndpointService } from './protocol/mcp-endpoint.service';

/**
 * The MCP endpoint, every method (OPTIONS included: the preflight is answered by the Origin
 * policy). Speaks only HTTP; McpEndpointService decides, the Origin check first.
 */
@Controller()
export class McpController {
  constructor(private readonly endpoint: McpEndpointService) {}

  @All(MCP_PATH)
  handle(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.endpoint.handle(req, res);
  }
}
