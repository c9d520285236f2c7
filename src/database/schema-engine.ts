import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { SchemaEngine } from '@prisma/schema-engine-wasm';
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';

type EngineModule = typeof import('@prisma/schema-engine-wasm');
type WasmExports = Record<string, unknown>;
/** The global WebAssembly object (typed here: TypeScript's node lib does not declare it). */
const Wasm = (
  globalThis as unknown as {
    WebAssembly: {
      instantiate(bytes: Buffer, imports: object): Promise<{ instance: { exports: WasmExports } }>;
    };
  }
).WebAssembly;

let loaded: Promise<EngineModule> | undefined;

/**
 * Loads Prisma's schema engine (WASM). The package's entry imports the .wasm file as an ES
 * module; we instantiate it by hand instead, so the same code runs under Node and under Jest.
 */
function loadEngineModule(): Promise<EngineModule> {
  loaded ??= (async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const bg = require('@prisma/schema-engine-wasm/schema_engine_bg') as EngineModule & {
      __wbg_set_wasm(exports: WasmExports): void;
    };
    const wasmFile = join(
      dirname(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')),
      'schema_engine_bg.wasm',
    );
    // The engine arms timers (about 10 s) that would keep a finished CLI or test run alive:
    // hand it unref'd ones.
    const imports: Record<string, unknown> = { ...bg };
    for (const name of Object.keys(imports)) {
      if (name.startsWith('__wbg_setTimeout_')) {
        imports[name] = (fn: () => void, ms: number) => setTimeout(fn, ms >>> 0).unref();
      }
    }
    const { instance } = await Wasm.instantiate(readFileSync(wasmFile), { './schema_engine_bg.js': imports });
    bg.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return bg;
  })();
  return loaded;
}

/**
 * Runs `fn` with a schema engine bound to a driver adapter (PGlite or PostgreSQL), then frees
 * the engine and disposes every connection it opened (a pg pool would otherwise stay open).
 */
export async function withSchemaEngine<T>(
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  schema: { path: string; content: string },
  fn: (engine: SchemaEngine) => Promise<T>,
  log: (message: string) => void = () => undefined,
): Promise<T> {
  const mod = await loadEngineModule();
  const opened: SqlDriverAdapter[] = [];
  const track = async (adapter: Promise<SqlDriverAdapter>) => {
    const a = await adapter;
    opened.push(a);
    return a;
  };
  const tracked: SqlMigrationAwareDriverAdapterFactory = {
    provider: adapterFactory.provider,
    adapterName: adapterFactory.adapterName,
    connect: () => track(adapterFactory.connect()),
    connectToShadowDb: () => track(adapterFactory.connectToShadowDb()),
  };
  const engine = await mod.SchemaEngine.new(
    { datamodels: [[schema.path, schema.content]] },
    log,
    bindMigrationAwareSqlAdapterFactory(tracked),
  );
  try {
    return await fn(engine);
  } finally {
    engine.free();
    await Promise.allSettled(opened.map((a) => a.dispose()));
  }
}
