/**
 * A real reverse proxy for end-to-end suites: Debian's nginx running the deploy guide's own site
 * file (docs/deploy/nginx.conf, its {{…}} placeholders filled in) inside a minimal main
 * configuration of the test's own (pid, logs, temp folders in a throwaway folder), and a test PKI
 * made with openssl: a CA and a server certificate for 127.0.0.1 and localhost.
 */
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { accessSync, chmodSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT, spawnCaptured, type SpawnedProcess } from './built-server';

/** The guide's nginx site file. */
export const NGINX_SITE_TEMPLATE = join(REPO_ROOT, 'docs', 'deploy', 'nginx.conf');

/** An executable on PATH or in the sbin folders (nginx lives in /usr/sbin), or undefined. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin'];
  for (const dir of dirs.filter(Boolean)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** The {{NAME}} placeholders of a template, each once, in order of appearance. */
export function placeholdersOf(template: string): string[] {
  return [...new Set([...template.matchAll(/\{\{([A-Z0-9_]+)\}\}/g)].map((m) => m[1]))];
}

/** Fills every placeholder; refuses a missing value and a value for a placeholder that is not there. */
export function fillTemplate(template: string, values: Record<string, string>): string {
  const names = placeholdersOf(template);
  const missing = names.filter((n) => values[n] === undefined);
  const unknown = Object.keys(values).filter((n) => !names.includes(n));
  if (missing.length || unknown.length)
    throw new Error(`template placeholders: missing ${missing.join(', ')}; unknown ${unknown.join(', ')}`);
  return template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_m, name: string) => values[name]);
}

export interface TestPki {
  /** PEM of the test CA (what clients are told to trust). */
  caPem: string;
  certFile: string;
  keyFile: string;
  /** base64 SHA-256 of the server certificate's public key (Chromium's --ignore-certificate-errors-spki-list). */
  spkiSha256: string;
}

/** A test CA and a server certificate it signed, for IP 127.0.0.1 and DNS localhost (P-256, 2 days). */
export function makeTestPki(dir: string): TestPki {
  mkdirSync(dir, { recursive: true });
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  // The CA's name and the server certificate's extensions, in one config file.
  writeFileSync(
    path('ca.cnf'),
    '[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=connect-bridge test CA\n' +
      '[server]\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n' +
      'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  openssl(
    'req',
    '-x509',
    ...ec,
    '-config',
    path('ca.cnf'),
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    path('ca.key'),
    '-out',
    path('ca.pem'),
    '-days',
    '2',
  );
  openssl('req', ...ec, '-subj', '/CN=127.0.0.1', '-keyout', path('server.key'), '-out', path('server.csr'));
  openssl(
    'x509',
    '-req',
    '-in',
    path('server.csr'),
    '-CA',
    path('ca.pem'),
    '-CAkey',
    path('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    path('ca.cnf'),
    '-extensions',
    'server',
    '-out',
    path('server.pem'),
  );
  const cert = new X509Certificate(readFileSync(path('server.pem')));
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return {
    caPem: readFileSync(path('ca.pem'), 'utf8'),
    certFile: path('server.pem'),
    keyFile: path('server.key'),
    spkiSha256: createHash('sha256').update(spki).digest('base64'),
  };
}

/** One line of the test's nginx access log (JSON). */
export interface AccessLogEntry {
  id: string;
  remote: string;
  method: string;
  uri: string;
  status: number;
  /** `127.0.0.1:3001`, or `127.0.0.1:3001, 127.0.0.1:3002` when nginx tried a second instance. */
  upstream: string;
  upstreamStatus: string;
  /** Seconds since the epoch, with milliseconds. */
  msec: number;
}

export interface RunningNginx {
  process: SpawnedProcess;
  accessLog(): AccessLogEntry[];
  stop(): Promise<void>;
}

/**
 * Runs nginx in the foreground with `site` (the filled-in site file) inside a main configuration
 * that keeps everything in `dir`: 2 workers, a JSON access log naming the instance (or instances)
 * each request went to. `nginx -t` first; resolves once `waitForPort` accepts connections.
 */
export async function startNginx(options: {
  nginx: string;
  dir: string;
  site: string;
  waitForPort: number;
}): Promise<RunningNginx> {
  const { nginx, dir } = options;
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    mkdirSync(join(dir, 'temp', sub), { recursive: true });
    chmodSync(join(dir, 'temp', sub), 0o777);
  }
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'temp'), 0o755);
  writeFileSync(join(dir, 'connect-bridge.conf'), options.site);
  const accessLog = join(dir, 'access.log');
  writeFileSync(
    join(dir, 'nginx.conf'),
    [
      ...(process.getuid?.() === 0 ? ['user root;'] : []),
      'worker_processes 2;',
      'daemon off;',
      `pid ${join(dir, 'nginx.pid')};`,
      'error_log stderr warn;',
      'events { worker_connections 1024; }',
      'http {',
      `  log_format bridge escape=json '{"id":"$request_id","remote":"$remote_addr","method":"$request_method","uri":"$uri","status":$status,"upstream":"$upstream_addr","upstreamStatus":"$upstream_status","msec":$msec}';`,
      `  access_log ${accessLog} bridge;`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
        (t, i) => `  ${t}_temp_path ${join(dir, 'temp', ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'][i])};`,
      ),
      `  include ${join(dir, 'connect-bridge.conf')};`,
      '}',
      '',
    ].join('\n'),
  );
  const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'];
  const check = spawnSync(nginx, ['-t', ...args], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx -t refused the configuration:\n${check.stderr}`);
  const proc = spawnCaptured(nginx, args, { env: { PATH: process.env.PATH ?? '' }, cwd: dir });
  const deadline = Date.now() + 15_000;
  while (!(await accepts(options.waitForPort))) {
    if (proc.child.exitCode !== null) throw new Error(`nginx exited:\n${proc.text}`);
    if (Date.now() > deadline)
      throw new Error(`nginx did not listen on ${options.waitForPort}:\n${proc.text}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    process: proc,
    accessLog: () => {
      let text = '';
      try {
        text = readFileSync(accessLog, 'utf8');
      } catch {
        return [];
      }
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AccessLogEntry);
    },
    stop: async () => {
      await proc.stop('SIGQUIT', 10_000);
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
