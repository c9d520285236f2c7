import { Inject, Injectable, Optional } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { StatementCounter } from '../database/statement-counter';

type HttpLabel = 'method' | 'route' | 'status';

/** The service's Prometheus registry (one per app instance, so tests can run several). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  /** Per-label-set children, so a request costs a Map lookup rather than two label hashes. */
  private readonly children = new Map<
    string,
    { count: Counter.Internal; duration: Histogram.Internal<HttpLabel> }
  >();

  constructor(@Optional() @Inject(StatementCounter) statements?: StatementCounter) {
    collectDefaultMetrics({ register: this.registry });
    if (statements) this.countStatements(statements);
  }

  /**
   * `database_statements_total`: every statement sent to the database (each one a round trip),
   * by whether it ran inside a transaction. Counted in plain numbers by the driver adapter
   * (StatementCounter) and carried over here when /metrics is read.
   */
  private countStatements(statements: StatementCounter): void {
    const reported = { outside: 0, inside: 0 };
    new Counter({
      name: 'database_statements_total',
      help: 'Statements sent to the database (each a round trip), by whether they ran inside a transaction (BEGIN and COMMIT included)',
      labelNames: ['in_transaction'] as const,
      registers: [this.registry],
      collect() {
        const { outside, inside } = statements;
        this.inc({ in_transaction: 'false' }, outside - reported.outside);
        this.inc({ in_transaction: 'true' }, inside - reported.inside);
        reported.outside = outside;
        reported.inside = inside;
      },
    });
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let child = this.children.get(key);
    if (!child) {
      const labels = { method, route, status: String(status) };
      child = { count: this.httpRequests.labels(labels), duration: this.httpDuration.labels(labels) };
      this.children.set(key, child);
    }
    child.count.inc();
    child.duration.observe(seconds);
  }
}
