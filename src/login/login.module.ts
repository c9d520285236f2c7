import { Module } from '@nestjs/common';
import { AuthKitModule } from '../authkit/authkit.module';
import { LegacySessionModule } from '../legacy-session/legacy-session.module';
import { LoginMaintenanceService } from './login-maintenance.service';
import { LoginTransactionService } from './login-transaction.service';
import { LoginMetrics } from './login-metrics';
import { LoginController } from './login.controller';
import { LoginService } from './login.service';

/** The login bridge: Login URI, legacy strategies, AuthKit completion. */
@Module({
  imports: [LegacySessionModule, AuthKitModule],
  controllers: [LoginController],
  providers: [LoginTransactionService, LoginService, LoginMaintenanceService, LoginMetrics],
})
export class LoginModule {}
