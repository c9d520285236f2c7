import { Inject, Injectable } from '@nestjs/common';
import { NotFoundException, WorkOS } from '@workos-inc/node';
import { MCP_SETTINGS, type McpSettings } from '../mcp-settings';

export interface DirectoryUser {
  id: string;
  email: string;
  /** The legacy user id, as sent to AuthKit's completion API. */
  externalId: string | null;
  firstName: string | null;
  lastName: string | null;
}

/** Looks up WorkOS users. Tests substitute their own implementation. */
export abstract class UserDirectory {
  /** The user, or null when WorkOS does not know the id; rejects when WorkOS cannot be asked. */
  abstract getUser(workosUserId: string): Promise<DirectoryUser | null>;
}

/**
 * `workos.userManagement.getUser` through @workos-inc/node. Settings are read on first use (demo
 * mode fills them in at boot); one retry, a short time limit: this runs while an MCP request waits.
 */
@Injectable()
export class WorkosUserDirectory extends UserDirectory {
  private client?: WorkOS;

  constructor(@Inject(MCP_SETTINGS) private readonly settings: McpSettings) {
    super();
  }

  async getUser(workosUserId: string): Promise<DirectoryUser | null> {
    try {
      const user = await this.workos().userManagement.getUser(workosUserId);
      return {
        id: user.id,
        email: user.email,
        externalId: user.externalId ?? null,
        firstName: user.firstName ?? null,
        lastName: user.lastName ?? null,
      };
    } catch (err) {
      if (err instanceof NotFoundException) return null;
      throw err;
    }
  }

  private workos(): WorkOS {
    if (this.client) return this.client;
    const { apiKey, apiUrl, clientId } = this.settings.workos;
    if (!apiKey) throw new Error('WORKOS_API_KEY is not configured');
    const url = new URL(apiUrl);
    this.client = new WorkOS(apiKey, {
      clientId,
      apiHostname: url.hostname,
      https: url.protocol === 'https:',
      ...(url.port ? { port: Number(url.port) } : {}),
      timeout: 5000,
      maxRetries: 1,
    });
    return this.client;
  }
}
