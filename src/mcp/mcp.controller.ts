import { All, Controller, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { McpEndpointService } from './protocol/mcp-endpoint.service';

/** The MCP endpoint. Speaks only HTTP; McpEndpointService decides. */
@Controller()
export class McpController {
  constructor(private readonly endpoint: McpEndpointService) {}

  @All('mcp')
  handle(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.endpoint.handle(req, res);
  }
}
