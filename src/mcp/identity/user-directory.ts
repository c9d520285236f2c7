import { Injectable } from '@nestjs/common';
import { AuthKitClient, type WorkOSUserView } from '../../authkit/authkit-client';

export type DirectoryUser = WorkOSUserView;

/** Looks up WorkOS users. Tests substitute their own implementation. */
export abstract class UserDirectory {
  /** The user, or null when WorkOS does not know the id; rejects when WorkOS cannot be asked. */
  abstract getUser(workosUserId: string): Promise<DirectoryUser | null>;
}

/** `workos.userManagement.getUser`, through the AuthKit module (the one place that uses the WorkOS SDK). */
@Injectable()
export class WorkosUserDirectory extends UserDirectory {
  constructor(private readonly authkit: AuthKitClient) {
    super();
  }

  getUser(workosUserId: string): Promise<DirectoryUser | null> {
    return this.authkit.getUser(workosUserId);
  }
}
