import type {
  SqlDriverAdapter,
  SqlMigrationAwareDriverAdapterFactory,
  SqlQuery,
  Transaction,
} from '@prisma/driver-adapter-utils';
import { MetricsService } from '../metrics/metrics.service';
import { countStatements, StatementCounter } from './statement-counter';

const query = (sql: string): SqlQuery => ({ sql, args: [], argTypes: [] });
const RESULT = { columnNames: ['one'], columnTypes: [], rows: [[1]] };

/** A driver that records what reached it; `phantom`: it ends transactions itself (PGlite). */
function fakeDriver(phantom: boolean) {
  const sent: string[] = [];
  const transaction = (): Transaction => ({
    provider: 'postgres',
    adapterName: 'fake',
    options: { usePhantomQuery: phantom },
    queryRaw: async (q) => (sent.push(`tx ${q.sql}`), RESULT),
    executeRaw: async (q) => (sent.push(`tx ${q.sql}`), 1),
    commit: async () => void sent.push('tx commit()'),
    rollback: async () => void sent.push('tx rollback()'),
    createSavepoint: async (name) => void sent.push(`tx SAVEPOINT ${name}`),
    rollbackToSavepoint: async (name) => void sent.push(`tx ROLLBACK TO ${name}`),
    releaseSavepoint: async (name) => void sent.push(`tx RELEASE ${name}`),
  });
  const adapter = (): SqlDriverAdapter & { underlyingDriver(): string } => ({
    provider: 'postgres',
    adapterName: 'fake',
    queryRaw: async (q) => (sent.push(q.sql), RESULT),
    executeRaw: async (q) => (sent.push(q.sql), 3),
    executeScript: async (script) => void sent.push(script),
    startTransaction: async (level) => (sent.push(level ? `BEGIN ${level}` : 'BEGIN'), transaction()),
    getConnectionInfo: () => ({ schemaName: 'public', supportsRelationJoins: true }),
    dispose: async () => void sent.push('dispose()'),
    underlyingDriver: () => 'the pool',
  });
  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: 'postgres',
    adapterName: 'fake',
    connect: async () => adapter(),
    connectToShadowDb: async () => adapter(),
  };
  return { factory, sent };
}

describe('countStatements: the driver adapter with every statement counted', () => {
  it('counts queries and commands outside a transaction and passes them and their answers on', async () => {
    const { factory, sent } = fakeDriver(false);
    const counter = new StatementCounter();
    const counted = countStatements(factory, counter);
    expect([counted.provider, counted.adapterName]).toEqual(['postgres', 'fake']);
    const db = await counted.connect();
    await expect(db.queryRaw(query('SELECT 1'))).resolves.toBe(RESULT);
    await expect(db.executeRaw(query('DELETE FROM t'))).resolves.toBe(3);
    expect(db.getConnectionInfo?.()).toEqual({ schemaName: 'public', supportsRelationJoins: true });
    expect((db as unknown as { underlyingDriver(): string }).underlyingDriver()).toBe('the pool');
    await db.dispose();
    expect(sent).toEqual(['SELECT 1', 'DELETE FROM t', 'dispose()']);
    expect(counter).toEqual({ outside: 2, inside: 0 });
  });

  it('counts BEGIN, the statements, savepoints and COMMIT of a transaction whose driver is sent COMMIT', async () => {
    const { factory, sent } = fakeDriver(false);
    const counter = new StatementCounter();
    const db = await countStatements(factory, counter).connect();
    const tx = await db.startTransaction();
    expect(tx.options).toEqual({ usePhantomQuery: false });
    await expect(tx.queryRaw(query('SELECT 2'))).resolves.toBe(RESULT);
    await tx.createSavepoint!('sp');
    await tx.rollbackToSavepoint!('sp');
    await tx.releaseSavepoint!('sp');
    // Such a driver is sent COMMIT as a statement; commit() then only hands the connection back.
    await tx.executeRaw(query('COMMIT'));
    await tx.commit();
    expect(sent).toEqual([
      'BEGIN',
      'tx SELECT 2',
      'tx SAVEPOINT sp',
      'tx ROLLBACK TO sp',
      'tx RELEASE sp',
      'tx COMMIT',
      'tx commit()',
    ]);
    expect(counter).toEqual({ outside: 0, inside: 6 });
  });

  it('counts commit() and rollback() of a driver that ends transactions itself, and SET TRANSACTION', async () => {
    const { factory } = fakeDriver(true);
    const counter = new StatementCounter();
    const db = await countStatements(factory, counter).connectToShadowDb();
    const committed = await db.startTransaction();
    await committed.executeRaw(query('UPDATE t SET x = 1'));
    await committed.commit();
    expect(counter).toEqual({ outside: 0, inside: 3 });
    const rolledBack = await db.startTransaction('SERIALIZABLE');
    await rolledBack.rollback();
    expect(counter).toEqual({ outside: 0, inside: 6 });
  });

  it('shows the counts on /metrics as database_statements_total, by in_transaction', async () => {
    const counter = new StatementCounter();
    const metrics = new MetricsService(counter);
    const read = async () => {
      const metric = await metrics.registry.getSingleMetric('database_statements_total')!.get();
      return Object.fromEntries(metric.values.map((v) => [v.labels.in_transaction, v.value]));
    };
    expect(await read()).toEqual({ false: 0, true: 0 });
    counter.outside += 5;
    counter.inside += 3;
    expect(await read()).toEqual({ false: 5, true: 3 });
    counter.outside += 1;
    expect(await read()).toEqual({ false: 6, true: 3 });
    expect(await metrics.registry.metrics()).toContain('database_statements_total{in_transaction="false"} 6');
  });

  it('leaves the metric out where there is no database', async () => {
    expect(new MetricsService().registry.getSingleMetric('database_statements_total')).toBeUndefined();
  });
});
