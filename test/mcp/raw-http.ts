import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * One HTTP request with the path sent exactly as given: no URL parsing, no normalisation of
 * `//`, `.`, `..`, `\` or percent-escapes (fetch and supertest normalise some of them).
 */
export function rawRequest(
  base: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: hostname, port, method, path, headers: options.headers, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${method} ${path}`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Other spellings of /mcp that a lenient router, a proxy or a decoder may take for it. */
export const MCP_PATH_SPELLINGS = [
  '/mcp/',
  '/MCP',
  '/Mcp',
  '/mcP/',
  '//mcp',
  '//mcp/',
  '/mcp//',
  '/%6dcp',
  '/%6Dcp',
  '/m%63p',
  '/%6d%63%70',
  '/mcp%2f',
  '/mcp%2F',
  '/%2fmcp',
  '/./mcp',
  '/x/../mcp',
  '/mcp/.',
  '/mcp;',
  '/mcp;x=1',
  '/mcp%00',
  '/mcp%20',
  '/mcp.',
  '/mcp.json',
  '/mcp\\',
  '/\\mcp',
];
