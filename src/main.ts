import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createApp, listen } from './bootstrap';
import { ConfigError, loadConfigFromProcess } from './config/app-config';
import { describeStartup } from './config/startup-mode';
import { busyPortsMessage } from './common/ports';
import { DataFolderInUseError, lockDataFolder } from './database/data-folder-lock';
import { demoInfo, startDemoAuthKit, type DemoAuthKit } from './demo/demo-authkit';
import { DemoUserSeeder, DEMO_USER } from './legacy-session/demo-user.seeder';
import { startupLogger } from './logging/logging.module';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfigFromProcess();
  } catch (err) {
    if (err instanceof ConfigError) {
      const mode = err.production ? ' in production mode (NODE_ENV=production)' : '';
      console.error(`connect-bridge refuses to start${mode}. ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  // The first line of the log says which mode this is (whatever LOG_LEVEL, unless silent).
  const startup = describeStartup(config);
  const log = startupLogger(config);
  log.info({ mode: startup.mode }, startup.line);
  for (const warning of startup.warnings) log.warn({ mode: startup.mode }, warning);
  // Demo mode (no WORKOS_API_KEY; refused in production): the embedded AuthKit emulator stands in for
  // WorkOS, and the demo's own pages (home page, walk-through) are added. Production loads neither.
  // Busy ports are found before the emulator starts or anything is written.
  const busy = await busyPortsMessage([
    { port: config.port, host: config.host, variable: 'PORT', what: 'the bridge' },
    ...(config.demo
      ? [
          {
            port: config.emulatorPort,
            host: '127.0.0.1',
            variable: 'EMULATOR_PORT',
            what: 'the demo AuthKit emulator',
          },
        ]
      : []),
  ]);
  if (busy) {
    console.error(busy);
    process.exit(1);
  }
  // The embedded database folder is this process's alone: a second server (or users:add while
  // this one runs) is refused before the emulator starts or anything is written.
  if (config.database.kind === 'pglite' && config.database.dataDir !== 'memory://') {
    try {
      lockDataFolder(config.database.dataDir);
    } catch (err) {
      if (err instanceof DataFolderInUseError) {
        console.error(err.message);
        process.exit(1);
      }
      throw err;
    }
  }
  let demo: DemoAuthKit | undefined;
  const modules = [];
  if (config.demo) {
    demo = await startDemoAuthKit(config);
    config = demo.config;
    const { DemoModule } = await import('./demo/demo.module.js');
    modules.push(DemoModule.forRoot(demoInfo(demo, DEMO_USER.email)));
  }
  const app = await createApp(config, { modules });
  // The demo's emulator stops after the bridge: sign-ins in flight during a stop still complete.
  await listen(app, config, { afterClose: async () => demo?.close() });
  if (demo) await printDemoBanner(app, demo);
}

/** Waits (briefly) until /readyz answers 200, then prints where everything is. */
async function printDemoBanner(app: NestExpressApplication, demo: DemoAuthKit): Promise<void> {
  const { demoBanner } = await import('./demo/demo-banner.js');
  const { port } = (app.getHttpServer() as import('node:http').Server).address() as AddressInfo;
  let ready = false;
  for (let i = 0; i < 50 && !ready; i++) {
    ready = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (!ready) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const password = app.get(DemoUserSeeder).password;
  const demoUser = password ? { email: DEMO_USER.email, password } : undefined;
  console.log(demoBanner(demo, { demoUser, ready }).join('\n'));
}

main().catch((err: unknown) => {
  console.error('connect-bridge failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
