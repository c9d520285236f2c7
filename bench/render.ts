// Re-renders bench/results/latest.md and latest.svg from a results file, without re-running:
//   node dist-bench/bench/render.js bench/results/<date>.json
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chart, checkTargets, markdown, RESULTS_DIR, type BenchResults } from './lib/report';

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: node dist-bench/bench/render.js bench/results/<date>.json');
  const results = JSON.parse(await readFile(file, 'utf8')) as BenchResults;
  results.targets = checkTargets(results);
  const text = markdown(results);
  await writeFile(join(RESULTS_DIR, 'latest.md'), `${text}\n`);
  if (results.http.length) await writeFile(join(RESULTS_DIR, 'latest.svg'), await chart(results));
  console.log(text);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
