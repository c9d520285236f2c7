// `npm run users:add -- --email alice@example.com [--first-name Alice] [--last-name Smith]`
// Adds a user of the built-in `local` strategy. The password is asked for twice (hidden) on a
// terminal, read from the first line of stdin otherwise (or with --password-stdin), or made up
// with --generate-password. Roles (`--role admin`, repeatable) and tenants (`--tenant acme=Acme`,
// repeatable) go with it. Also: --reset-password, --disable, --enable, --set-roles and
// --set-tenants for an existing user; changes of roles, tenants or status reach running instances.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { userInfo } from 'node:os';
import { GrantStore } from '../access/grant.store';
import { DomainError } from '../common/errors';
import { ConfigError, loadConfigFromProcess } from '../config/app-config';
import { openDatabase } from '../database/adapter';
import { DataFolderInUseError } from '../database/data-folder-lock';
import { applyMigrations } from '../database/migrator';
import { PrismaClient } from '../generated/prisma/client';
import { rolesFrom, tenantsFrom, type LegacyTenant } from '../legacy-session/legacy-user';
import { LocalUsersService, type LocalUserAccess } from '../legacy-session/local-users.service';
import { PasswordHasher } from '../legacy-session/password-hasher';
import { UserStatusStore } from '../legacy-status/user-status.store';

const USAGE = `Usage: npm run users:add -- --email <email> [--first-name <name>] [--last-name <name>]
                         [--role <name>]... [--tenant <id>=<name>]...
                         [--password-stdin | --generate-password]
       npm run users:add -- --email <email> --reset-password [--password-stdin | --generate-password]
       npm run users:add -- --email <email> --disable | --enable
       npm run users:add -- --email <email> --set-roles [--role <name>]...
                         [--set-tenants [--tenant <id>=<name>]...]
       npm run users:add -- --email <email> --set-tenants [--tenant <id>=<name>]...
--role and --tenant repeat (one role or tenant each); --set-roles / --set-tenants replace the
user's roles / tenants with the ones given (none given: none left).`;

export interface UsersAddIo {
  /** Asks for the password (hidden on a terminal) or reads it from stdin. */
  readPassword(fromStdin: boolean): Promise<string>;
  print(line: string): void;
}

/** The command itself, separated from process and database wiring so tests can run it. */
export async function runUsersAdd(
  argv: string[],
  users: LocalUsersService,
  io: UsersAddIo,
  grants?: GrantStore,
  status?: UserStatusStore,
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        email: { type: 'string' },
        'first-name': { type: 'string' },
        'last-name': { type: 'string' },
        role: { type: 'string', multiple: true },
        tenant: { type: 'string', multiple: true },
        'password-stdin': { type: 'boolean' },
        'generate-password': { type: 'boolean' },
        'reset-password': { type: 'boolean' },
        disable: { type: 'boolean' },
        enable: { type: 'boolean' },
        'set-roles': { type: 'boolean' },
        'set-tenants': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    io.print(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help || !values.email) {
    io.print(USAGE);
    return values.help ? 0 : 2;
  }
  const misuse = misusedOptions(values);
  if (misuse) {
    io.print(`${misuse}\n${USAGE}`);
    return 2;
  }
  const email = values.email;
  const password = async () => {
    if (values['generate-password']) return randomBytes(12).toString('base64url');
    return io.readPassword(Boolean(values['password-stdin']));
  };
  try {
    const roles = values.role ?? [];
    const tenants = (values.tenant ?? []).map(parseTenant);
    if (values['set-roles'] || values['set-tenants']) {
      let user: LocalUserAccess | undefined;
      if (values['set-roles']) user = await users.setRoles(email, roles);
      if (values['set-tenants']) user = await users.setTenants(email, tenants);
      if (values['set-roles']) io.print(`Roles of ${email}: ${describeRoles(user!.roles)}.`);
      if (values['set-tenants']) io.print(`Tenants of ${email}: ${describeTenants(user!.tenants)}.`);
      await tellInstances(user!, io, status);
      return 0;
    }
    if (values.disable || values.enable) {
      const user = await users.setDisabled(email, Boolean(values.disable));
      if (!values.disable) {
        await tellInstances(user, io, status, true);
        io.print(`${email} is enabled. They sign in again to connect AI applications.`);
        return 0;
      }
      await tellInstances(user, io, status, true);
      // A disabled user keeps no AI access: every grant ends, on every running instance.
      const ended = grants
        ? await grants.revokeUser(user.id, { actor: 'cli', actorDetail: osUser() }, 'disable_user')
        : 0;
      io.print(`${email} is disabled; ${ended} grant${ended === 1 ? '' : 's'} of AI applications ended.`);
      return 0;
    }
    const pw = await password();
    if (values['reset-password']) {
      await users.setPassword(email, pw);
      io.print(`Password of ${email} changed.`);
    } else {
      const user = await users.create({
        email,
        password: pw,
        firstName: values['first-name'],
        lastName: values['last-name'],
        roles,
        tenants,
      });
      io.print(`Added ${user.email} (id ${user.id}).`);
      if (roles.length) io.print(`Roles: ${describeRoles(rolesFrom(user.roles))}.`);
      if (tenants.length) io.print(`Tenants: ${describeTenants(tenantsFrom(user.tenants))}.`);
    }
    if (values['generate-password']) io.print(`Password: ${pw}`);
    return 0;
  } catch (err) {
    if (err instanceof DomainError) {
      io.print(err.message);
      return 1;
    }
    throw err;
  }
}

/** Options that do not go together (one action per run; roles and tenants only where they apply). */
function misusedOptions(values: {
  'reset-password'?: boolean;
  disable?: boolean;
  enable?: boolean;
  'set-roles'?: boolean;
  'set-tenants'?: boolean;
  role?: string[];
  tenant?: string[];
  'first-name'?: string;
  'last-name'?: string;
}): string | undefined {
  const actions = [
    values['reset-password'] && '--reset-password',
    (values.disable || values.enable) && (values.disable ? '--disable' : '--enable'),
    (values['set-roles'] || values['set-tenants']) && '--set-roles/--set-tenants',
  ].filter(Boolean);
  if (values.disable && values.enable) return '--disable and --enable contradict each other.';
  if (actions.length > 1) return `${actions.join(' and ')} cannot be combined: one change per run.`;
  const creating = actions.length === 0;
  if (values.role?.length && !creating && !values['set-roles'])
    return '--role goes with adding a user or with --set-roles.';
  if (values.tenant?.length && !creating && !values['set-tenants'])
    return '--tenant goes with adding a user or with --set-tenants.';
  if (!creating && (values['first-name'] !== undefined || values['last-name'] !== undefined))
    return '--first-name and --last-name go with adding a user.';
  return undefined;
}

/** `--tenant <id>=<name>`: the id up to the first `=`, the name after it. */
function parseTenant(value: string): LegacyTenant {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1)
    throw new DomainError(
      'invalid_tenant',
      `--tenant ${value}: write it as <id>=<name>, e.g. --tenant acme=Acme Inc.`,
    );
  return { id: value.slice(0, eq).trim(), name: value.slice(eq + 1).trim() };
}

const describeRoles = (roles: readonly string[]): string => (roles.length ? roles.join(', ') : 'none');

const describeTenants = (tenants: readonly LegacyTenant[]): string =>
  tenants.length ? tenants.map((t) => `${t.id}=${t.name}`).join(', ') : 'none';

/**
 * Records what the user table says now (status, roles, tenants) as the legacy app's newest answer:
 * when that changes what tools see, every running instance is told (a user who never connected
 * an AI application has nothing to tell; the next sign-in carries it).
 */
async function tellInstances(
  user: LocalUserAccess,
  io: UsersAddIo,
  status: UserStatusStore | undefined,
  quiet = false,
): Promise<void> {
  if (!status) return;
  const { changed } = await status.record(user.id, {
    active: !user.disabled,
    roles: user.roles,
    tenants: user.tenants,
  });
  if (changed && !quiet)
    io.print('Running instances were told: connected AI applications see it at their next call.');
}

/** Who ran the command, for the audit trail. */
function osUser(): string {
  try {
    return `os-user:${userInfo().username}`;
  } catch {
    return 'os-user:unknown';
  }
}

/** Reads a line from a terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stdout.write(question);
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.resume();
    let value = '';
    const finish = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stdout.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function readStdinLine(): Promise<string> {
  let data = '';
  for await (const chunk of process.stdin) {
    data += String(chunk);
    if (data.includes('\n')) break;
  }
  return data.split(/\r?\n/)[0];
}

const processIo: UsersAddIo = {
  async readPassword(fromStdin) {
    if (fromStdin || !process.stdin.isTTY) return readStdinLine();
    const first = await promptHidden('Password: ');
    const second = await promptHidden('Repeat it: ');
    if (first !== second) throw new DomainError('password_mismatch', 'The two passwords differ.');
    return first;
  },
  print: (line) => console.log(line),
};

async function main(): Promise<number> {
  const config = loadConfigFromProcess();
  const db = openDatabase(config.database);
  const prisma = new PrismaClient({ adapter: db.factory });
  try {
    if (config.database.autoMigrate) await applyMigrations(db.factory);
    return await runUsersAdd(
      process.argv.slice(2),
      new LocalUsersService(prisma, new PasswordHasher()),
      processIo,
      new GrantStore(prisma),
      new UserStatusStore(prisma),
    );
  } finally {
    await prisma.$disconnect();
    await db.close();
  }
}

if (require.main === module) {
  main()
    .then((code) => process.exit(code))
    .catch((err: unknown) => {
      console.error(
        err instanceof ConfigError || err instanceof DomainError || err instanceof DataFolderInUseError
          ? err.message
          : `users:add failed: ${(err as Error).message ?? err}`,
      );
      process.exit(1);
    });
}
