import type { WorkOSUserView } from '../../authkit/authkit-client';

export type DirectoryUser = WorkOSUserView;

/**
 * Looks up WorkOS users. In the app it is the AuthKitClient (`workos.userManagement.getUser`, the
 * one place that uses the WorkOS SDK; see mcp.module.ts); tests substitute their own implementation.
 */
export abstract class UserDirectory {
  /** The user, or null when WorkOS does not know the id; rejects when WorkOS cannot be asked. */
  abstract getUser(workosUserId: string): Promise<DirectoryUser | null>;
}
