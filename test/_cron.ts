import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userTempDir } from './_cli.js';
import { giveToTestUser, isRoot, TEST_USER } from './_tree.js';

/**
 * Test helper: what Vixie cron (Debian's cron, macOS cron) does to the command part of a crontab line before
 * `/bin/sh -c` sees it (do_command.c): up to the first unescaped `%` is the command, with `\%` turned into `%`
 * and every other backslash kept; the rest is the command's stdin. Also: cron's bare environment.
 */
export function cronCommandAsRun(command: string): { command: string; stdin: string } {
  let out = '';
  let escaped = false;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i] as string;
    if (escaped) {
      out += ch === '%' ? '%' : `\\${ch}`;
      escaped = false;
      continue;
    }
    if (ch === '\\') {
      escaped = true;
      continue;
    }
    if (ch === '%') return { command: out, stdin: command.slice(i + 1) };
    out += ch;
  }
  if (escaped) out += '\\';
  return { command: out, stdin: '' };
}

/** The environment cron gives a job (Debian: HOME, LOGNAME, PATH, SHELL from the passwd entry; nothing else). */
export function cronEnvironment(home: string, user: string): Record<string, string> {
  return { HOME: home, LOGNAME: user, USER: user, PATH: '/usr/bin:/bin', SHELL: '/bin/sh' };
}

/** The cron job's user as the tests see it: the unprivileged test user as root, else yourself. */
export const cronUser = isRoot ? TEST_USER : execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
/** That user's home folder (cron runs jobs there). */
export const cronHome = execFileSync('getent', ['passwd', isRoot ? TEST_USER : String(process.getuid?.())], { encoding: 'utf8' }).split(
  ':',
)[5] as string;

/**
 * A stand-in `crontab` (FOLDER_SYNC_CRONTAB) that keeps the table in a file: for tests of the line itself,
 * so the running cron daemon cannot fire the job in the middle of the test.
 */
export function fakeCrontab(): { env: { FOLDER_SYNC_CRONTAB: string }; table: () => string } {
  const dir = userTempDir('fs-fake-crontab-');
  const file = join(dir, 'table');
  const bin = join(dir, 'crontab');
  writeFileSync(
    bin,
    `#!/bin/sh\ncase "$1" in\n  -l) [ -f '${file}' ] || { echo "no crontab for $(id -un)" >&2; exit 1; }; cat '${file}' ;;\n  -) cat > '${file}' ;;\n  *) exit 2 ;;\nesac\n`,
  );
  chmodSync(bin, 0o755);
  giveToTestUser(dir);
  return { env: { FOLDER_SYNC_CRONTAB: bin }, table: () => (existsSync(file) ? readFileSync(file, 'utf8') : '') };
}

/** A job line as cron runs it: its command part, cron's % handling, env -i with cron's variables, /bin/sh -c. */
function cronArgv(line: string): string[] {
  const command = line.replace(/^(\S+\s+){5}/, '');
  const { command: sh, stdin } = cronCommandAsRun(command);
  if (stdin !== '') throw new Error(`cron would feed the job stdin: ${JSON.stringify(stdin)}`);
  const env = Object.entries(cronEnvironment(cronHome, cronUser)).map(([k, v]) => `${k}=${v}`);
  const argv = ['env', '-i', ...env, '/bin/sh', '-c', sh];
  return isRoot ? ['runuser', '-u', TEST_USER, '--', ...argv] : argv;
}

/** Run our job line as cron would, in HOME, and wait (blocking this process). */
export function runLineAsCron(line: string): { status: number | null; output: string } {
  const cmd = cronArgv(line);
  const r = spawnSync(cmd[0] as string, cmd.slice(1), { cwd: cronHome, encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}

/** The same without blocking: for tests whose own server (a ping server) must answer the job meanwhile. */
export function runLineAsCronAsync(line: string): Promise<{ status: number | null; output: string }> {
  const cmd = cronArgv(line);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0] as string, cmd.slice(1), { cwd: cronHome, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, output }));
  });
}
