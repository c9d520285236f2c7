import { Module } from '@nestjs/common';
import { AuditService } from './audit.service';
import { AuthKitClient, WorkOSAuthKitClient } from './authkit-client';
import { UserLinksService } from './user-links.service';

@Module({
  providers: [{ provide: AuthKitClient, useClass: WorkOSAuthKitClient }, AuditService, UserLinksService],
  exports: [AuthKitClient, AuditService, UserLinksService],
})
export class AuthKitModule {}
