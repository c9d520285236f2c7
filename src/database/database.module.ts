import { Global, Logger, Module } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { openDatabase } from './adapter';
import { applyMigrations } from './migrator';
import { DATABASE_HANDLE, PrismaService } from './prisma.service';
import { StatementCounter } from './statement-counter';

@Global()
@Module({
  providers: [
    StatementCounter,
    {
      provide: DATABASE_HANDLE,
      inject: [APP_CONFIG, StatementCounter],
      useFactory: async (config: AppConfig, statements: StatementCounter) => {
        const handle = openDatabase(config.database, statements);
        if (config.database.autoMigrate) {
          const applied = await applyMigrations(handle.factory);
          if (applied.length) new Logger('Migrations').log(`applied ${applied.join(', ')}`);
        }
        return handle;
      },
    },
    PrismaService,
  ],
  exports: [PrismaService, StatementCounter],
})
export class DatabaseModule {}
