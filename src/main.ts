import 'reflect-metadata';
import { createApp, listen } from './bootstrap';
import { ConfigError, loadConfigFromProcess } from './config/app-config';

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
  const app = await createApp(config);
  await listen(app, config);
}

main().catch((err: unknown) => {
  console.error('connect-bridge failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
