import { Injectable } from '@nestjs/common';
import type {
  IsolationLevel,
  SqlDriverAdapter,
  SqlMigrationAwareDriverAdapterFactory,
  SqlQuery,
  Transaction,
} from '@prisma/driver-adapter-utils';

/**
 * Statements sent to the database (each one a round trip), outside and inside transactions:
 * plain numbers, bumped by the counting driver adapter and read by /metrics
 * (`database_statements_total`). One per app instance.
 */
@Injectable()
export class StatementCounter {
  outside = 0;
  inside = 0;
}

/**
 * The driver adapter factory with every statement counted: queries and commands (a script, which
 * only migrations send, once), and inside a transaction also its BEGIN (and SET TRANSACTION),
 * savepoints and its COMMIT or ROLLBACK. A driver that ends transactions itself
 * (`usePhantomQuery`: PGlite) is counted at commit() and rollback(); the others are sent COMMIT
 * and ROLLBACK through executeRaw, counted there.
 */
export function countStatements(
  factory: SqlMigrationAwareDriverAdapterFactory,
  counter: StatementCounter,
): SqlMigrationAwareDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => countingAdapter(await factory.connect(), counter),
    connectToShadowDb: async () => countingAdapter(await factory.connectToShadowDb(), counter),
  };
}

function countingAdapter(adapter: SqlDriverAdapter, counter: StatementCounter): SqlDriverAdapter {
  const wrapped: SqlDriverAdapter & { underlyingDriver?: () => unknown } = {
    provider: adapter.provider,
    adapterName: adapter.adapterName,
    queryRaw(query: SqlQuery) {
      counter.outside++;
      return adapter.queryRaw(query);
    },
    executeRaw(query: SqlQuery) {
      counter.outside++;
      return adapter.executeRaw(query);
    },
    executeScript: (script: string) => {
      counter.outside++;
      return adapter.executeScript(script);
    },
    async startTransaction(isolationLevel?: IsolationLevel) {
      // BEGIN, and SET TRANSACTION ISOLATION LEVEL when one is asked for.
      counter.inside += isolationLevel ? 2 : 1;
      return countingTransaction(await adapter.startTransaction(isolationLevel), counter);
    },
    dispose: () => adapter.dispose(),
  };
  if (adapter.getConnectionInfo) wrapped.getConnectionInfo = () => adapter.getConnectionInfo!();
  const driver = (adapter as { underlyingDriver?: () => unknown }).underlyingDriver;
  if (typeof driver === 'function') wrapped.underlyingDriver = () => driver.call(adapter);
  return wrapped;
}

function countingTransaction(tx: Transaction, counter: StatementCounter): Transaction {
  const phantom = tx.options.usePhantomQuery;
  const wrapped: Transaction = {
    provider: tx.provider,
    adapterName: tx.adapterName,
    options: tx.options,
    queryRaw(query: SqlQuery) {
      counter.inside++;
      return tx.queryRaw(query);
    },
    executeRaw(query: SqlQuery) {
      counter.inside++;
      return tx.executeRaw(query);
    },
    commit() {
      if (phantom) counter.inside++;
      return tx.commit();
    },
    rollback() {
      if (phantom) counter.inside++;
      return tx.rollback();
    },
  };
  if (tx.createSavepoint)
    wrapped.createSavepoint = (name) => {
      counter.inside++;
      return tx.createSavepoint!(name);
    };
  if (tx.rollbackToSavepoint)
    wrapped.rollbackToSavepoint = (name) => {
      counter.inside++;
      return tx.rollbackToSavepoint!(name);
    };
  if (tx.releaseSavepoint)
    wrapped.releaseSavepoint = (name) => {
      counter.inside++;
      return tx.releaseSavepoint!(name);
    };
  return wrapped;
}
