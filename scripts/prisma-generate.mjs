#!/usr/bin/env node
// Runs `prisma generate` without any network beyond npm. The CLI insists on a schema-engine
// binary it would download; generating the client does not use it, so point it at a stub.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'node_modules', 'prisma', 'build', 'index.js');
if (!existsSync(cli)) {
  // Installed without dev dependencies (production image): the client must have been generated at build time.
  console.log('prisma CLI not installed; skipping prisma generate');
  process.exit(0);
}
const stubDir = join(root, 'node_modules', '.cache', 'connect-bridge');
mkdirSync(stubDir, { recursive: true });
const stub = join(stubDir, 'schema-engine-stub');
writeFileSync(
  stub,
  '#!/bin/sh\necho "schema engine stub: migrations run through @prisma/schema-engine-wasm" >&2\nexit 1\n',
);
chmodSync(stub, 0o755);

const result = spawnSync(process.execPath, [cli, 'generate'], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: stub,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
    CHECKPOINT_DISABLE: '1',
    PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING: '1',
  },
});
process.exit(result.status ?? 1);
