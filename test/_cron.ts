/**
 * Test helper: what Vixie cron (Debian's cron, macOS cron) does to the command part of a crontab line before
 * `/bin/sh -c` sees it (do_command.c): up to the first unescaped `%` is the command, with `\%` turned into `%`
 * and every other backslash kept; the rest is the command's stdin. Also: cron's bare environment.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userTempDir } from './_cli.js';
import { giveToTestUser } from './_tree.js';

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

/**
 * How cron runs a crontab job line: its command part after cron's `%` handling, under `env -i` with cron's
 * variables, through `/bin/sh -c`, in HOME; as the unprivileged test user when the suite runs as root.
 */
function cronArgv(line: string, who: CronUser): { argv: string[]; stdin: string } {
  const { command: sh, stdin } = cronCommandAsRun(line.replace(/^(\S+\s+){5}/, ''));
  const env = Object.entries(cronEnvironment(who.home, who.user)).map(([k, v]) => `${k}=${v}`);
  const argv = ['env', '-i', ...env, '/bin/sh', '-c', sh];
  return { argv: who.asTestUser ? ['runuser', '-u', 'folder-sync-test', '--', ...argv] : argv, stdin };
}

export interface CronUser {
  home: string;
  user: string;
  asTestUser: boolean;
}

/** Run a job line as cron would, and wait (blocking this process). */
export function runLineAsCron(line: string, who: CronUser): { status: number | null; output: string; stdin: string } {
  const { argv, stdin } = cronArgv(line, who);
  const r = spawnSync(argv[0] as string, argv.slice(1), { cwd: who.home, encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr, stdin };
}

/** The same without blocking: for tests whose own server (a ping server) must answer the job meanwhile. */
export function runLineAsCronAsync(line: string, who: CronUser): Promise<{ status: number | null; output: string }> {
  const { argv } = cronArgv(line, who);
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { cwd: who.home, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, output }));
  });
}

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
