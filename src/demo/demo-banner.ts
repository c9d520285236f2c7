import { DEMO_READER } from '../legacy-session/demo-user.seeder';
import { demoAuthKitLines, type DemoAuthKit } from './demo-authkit';
import { demoClientCommand } from './demo.pages';

/**
 * The few lines `npm start` prints once the demo is ready: where things are, how to sign in, how
 * to connect a client. Plain text; the newcomer test reads these lines.
 */
export function demoBanner(
  demo: DemoAuthKit,
  options: { demoUser?: { email: string; password: string }; ready: boolean },
): string[] {
  const { publicUrl } = demo.config;
  const mcpUrl = `${publicUrl}/mcp`;
  return [
    '',
    options.ready
      ? 'connect-bridge demo is ready (AuthKit emulator and database embedded; nothing leaves this machine)'
      : `connect-bridge demo started, but is not ready yet: see ${publicUrl}/readyz`,
    `  Home page    ${publicUrl}/   (explains the flow; "Start the sign-in" walks it in your browser)`,
    `  MCP server   ${mcpUrl}`,
    ...(options.demoUser
      ? [
          `  Sign in as   ${options.demoUser.email} / ${options.demoUser.password}   (a new password at every start)`,
          `  or as        ${DEMO_READER.email}, same password   (a reader in one workspace; see the home page)`,
        ]
      : []),
    ...demoAuthKitLines(demo),
    'Connect MCP Inspector:',
    '  npx @modelcontextprotocol/inspector',
    `  then: transport "Streamable HTTP", URL ${mcpUrl}, Connect, and sign in when it asks`,
    'Connect an SDK client (prints a sign-in link, then what whoami answers):',
    `  ${demoClientCommand(mcpUrl)}`,
    '',
  ];
}
