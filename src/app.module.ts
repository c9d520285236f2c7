import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { DestinationStream } from 'pino';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { FaviconController } from './common/favicon.controller';
import type { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { loggerModule } from './logging/logging.module';
import { LoginModule } from './login/login.module';
import { McpModule } from './mcp/mcp.module';
import { MetricsModule } from './metrics/metrics.module';

export interface AppModuleOptions {
  /** Where log lines go (stdout by default); tests capture them here. */
  logStream?: DestinationStream;
  /** Modules only some runs have (main.ts adds the demo's pages in demo mode). */
  modules?: DynamicModule[];
}

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, options: AppModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        loggerModule(config, options.logStream),
        DatabaseModule,
        MetricsModule,
        HealthModule,
        LoginModule,
        McpModule,
        ...(options.modules ?? []),
      ],
      controllers: [FaviconController],
      providers: [{ provide: APP_FILTER, useClass: AllExceptionsFilter }],
    };
  }
}
