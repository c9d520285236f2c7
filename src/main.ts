import 'reflect-metadata';
import { createApp, listen } from './bootstrap';
import { ConfigError, loadConfigFromProcess } from './config/app-config';
import { demoAuthKitLines, startDemoAuthKit, type DemoAuthKit } from './demo/demo-authkit';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfigFromProcess();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  // Demo mode (no WORKOS_API_KEY; refused in production): the embedded AuthKit emulator stands in for WorkOS.
  let demo: DemoAuthKit | undefined;
  if (config.demo) {
    demo = await startDemoAuthKit(config);
    config = demo.config;
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void demo?.close());
  }
  const app = await createApp(config);
  await listen(app, config);
  if (demo) for (const line of demoAuthKitLines(demo)) console.log(line);
}

main().catch((err: unknown) => {
  console.error('connect-bridge failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
