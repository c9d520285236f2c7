import { DynamicModule, Module } from '@nestjs/common';
import { DemoController } from './demo.controller';
import { DemoWalkthroughService } from './demo-walkthrough.service';
import type { DemoInfo } from './demo.pages';
import { DEMO_INFO } from './demo.tokens';

/** The demo's home page and in-browser walk-through. main.ts adds it in demo mode only. */
@Module({})
export class DemoModule {
  static forRoot(info: DemoInfo): DynamicModule {
    return {
      module: DemoModule,
      controllers: [DemoController],
      providers: [{ provide: DEMO_INFO, useValue: info }, DemoWalkthroughService],
    };
  }
}
