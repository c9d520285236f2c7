// `npm run users:add -- --email alice@example.com [--first-name Alice] [--last-name Smith]`
// Adds a user of the built-in `local` strategy. The password is asked for twice (hidden) on a
// terminal, read from the first line of stdin otherwise (or with --password-stdin), or made up
// with --generate-password. Also: --reset-password, --disable, --enable for an existing user.
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
import { LocalUsersService } from '../legacy-session/local-users.service';
import { PasswordHasher } from '../legacy-session/password-hasher';

const USAGE = `Usage: npm run users:add -- --email <email> [--first-name <name>] [--last-name <name>]
                         [--password-stdin | --generate-password]
       npm run users:add -- --email <email> --reset-password [--password-stdin | --generate-password]
       npm run users:add -- --email <email> --disable | --enable`;

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
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        email: { type: 'string' },
        'first-name': { type: 'string' },
        'last-name': { type: 'string' },
        'password-stdin': { type: 'boolean' },
        'generate-password': { type: 'boolean' },
        'reset-password': { type: 'boolean' },
        disable: { type: 'boolean' },
        enable: { type: 'boolean' },
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
  const email = values.email;
  const password = async () => {
    if (values['generate-password']) return randomBytes(12).toString('base64url');
    return io.readPassword(Boolean(values['password-stdin']));
  };
  try {
    if (values.disable || values.enable) {
      const user = await users.setDisabled(email, Boolean(values.disable));
      if (!values.disable) {
        io.print(`${email} is enabled. They sign in again to connect AI applications.`);
        return 0;
      }
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
      });
      io.print(`Added ${user.email} (id ${user.id}).`);
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
