import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { PrismaClient } from '../generated/prisma/client';
import type { DatabaseHandle } from './adapter';

export const DATABASE_HANDLE = Symbol('DATABASE_HANDLE');

/**
 * The Prisma client, on the driver adapter chosen at boot (PGlite or PostgreSQL).
 * Connects on module init and disconnects (closing the pool or PGlite) on shutdown.
 */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(PrismaService.name);

  constructor(@Inject(DATABASE_HANDLE) private readonly handle: DatabaseHandle) {
    // 'minimal': an error message never carries the query's argument values (ids, flow ids).
    super({ adapter: handle.factory, errorFormat: 'minimal' });
  }

  get kind(): DatabaseHandle['kind'] {
    return this.handle.kind;
  }

  async onModuleInit(): Promise<void> {
    await this.$connect();
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
    await this.handle.close();
    this.logger.log('database closed');
  }

  /** Cheap reachability check used by /readyz. */
  async ping(timeoutMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.$queryRawUnsafe('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
