/**
 * `npm run soak`: the one-minute mixed load (100 MCP clients calling for a minute while 10 people
 * at a time sign in over and over) against the compiled server, on PGlite, or on PostgreSQL with
 * TEST_DATABASE_URL. Fails on any error or any missing record; writes the numbers to
 * test-artifacts/soak-<database>.json and prints one line. SOAK_SECONDS changes the length.
 * The 10-second version of the same run is part of `npm test` (test/reliability/load.e2e.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectNothingLost, runMixedLoad, summarize } from '../test/reliability/mixed-load';

const seconds = Number(process.env.SOAK_SECONDS ?? 60);

describe(`soak: ${seconds} s of MCP calls and sign-ins`, () => {
  it('serves everything, loses nothing', async () => {
    const r = await runMixedLoad({ seconds, mcpClients: 100, loginFlows: 10 });
    const dir = join(__dirname, '..', 'test-artifacts');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `soak-${r.database}.json`), `${JSON.stringify(r, null, 2)}\n`);
    process.stdout.write(`\nsoak: ${summarize(r)}\n\n`);
    expectNothingLost(r);
  });
});
