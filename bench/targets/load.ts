// A load generator in its own process (autocannon), so that the process measuring something else
// at the same time (sign-ins under load) keeps its event loop to itself.
import { failStart, serveRpc } from '../lib/child';
import { runLoad, type LoadResult, type LoadSpec } from '../lib/load';

function main(): void {
  serveRpc(
    {
      /** One run of `spec`; the summary only (no per-request latencies). */
      run: async (spec: LoadSpec): Promise<LoadResult> => {
        const { latencies: _l, cpuMs: _c, ...summary } = await runLoad({ ...spec, keepLatencies: true });
        return summary;
      },
      shutdown: () => {
        setImmediate(() => process.exit(0));
      },
    },
    { pid: process.pid },
  );
}

try {
  main();
} catch (err) {
  failStart(err);
}
