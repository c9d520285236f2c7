import { DynamicModule, Module } from '@nestjs/common';
import { LegacySessionModule } from '../legacy-session/legacy-session.module';
import { DemoController } from './demo.controller';
import { DemoUserControls } from './demo-user-controls.service';
import { DemoWalkthroughService } from './demo-walkthrough.service';
import type { DemoInfo } from './demo.pages';
import { DEMO_INFO } from './demo.tokens';

/**
 * The demo's home page, its in-browser walk-through and its demo-user buttons. main.ts adds it in
 * demo mode only.
 */
@Module({})
export class DemoModule {
  static forRoot(info: DemoInfo): DynamicModule {
    return {
      module: DemoModule,
      imports: [LegacySessionModule],
      controllers: [DemoController],
      providers: [{ provide: DEMO_INFO, useValue: info }, DemoWalkthroughService, DemoUserControls],
    };
  }
}
