/**
 * Test helper: run the BUILT CLI (`node dist/cli.js`, built by `npm test`'s pretest) as a child process,
 * optionally as the unprivileged test user (`runuser -u folder-sync-test --` when the suite runs as root).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { inject, onTestFinished } from 'vitest';
import { isRoot, TEST_USER, tempDir } from './_tree.js';

export const repoCli = resolve(import.meta.dirname, '..', 'dist', 'cli.js');

export interface CliResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  /** Added to (and overriding) the test process's environment. */
  env?: Record<string, string | undefined>;
  /** Run as the unprivileged test user (as root) or as yourself (otherwise). */
  asUser?: boolean;
  /** Kill the CLI after this long (default 60 s). */
  timeoutMs?: number;
  /** Called with the child process once spawned (fault tests kill it or write to it mid-pass). */
  onSpawn?: (child: ChildProcess) => void;
  /** Run under this limit of open files (prlimit). */
  openFiles?: number;
}

// Each test file gets its own state folders (locks), so parallel files never see each other's locks.
const stateDirs: { root?: string; user?: string } = {};
function stateDirFor(asUser: boolean): string {
  const key = asUser && isRoot ? 'user' : 'root';
  stateDirs[key] ??= tempDir('fs-state-', { forUser: key === 'user' });
  return stateDirs[key];
}

/** Spawn `node dist/cli.js ...args` and collect its exit code and output. Never throws on a non-zero exit. */
export function runCli(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  const asUser = opts.asUser ?? false;
  const cli = asUser && isRoot ? (inject('asUserCli') ?? repoCli) : repoCli;
  const argv = [process.execPath, cli, ...args];
  const limited = opts.openFiles === undefined ? argv : ['prlimit', `--nofile=${opts.openFiles}:${opts.openFiles}`, '--', ...argv];
  const [cmd, ...rest] = asUser && isRoot ? ['runuser', '-u', TEST_USER, '--', ...limited] : limited;
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FOLDER_SYNC_STATE_DIR: stateDirFor(asUser) };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd as string, rest, { cwd: opts.cwd ?? tmpdir(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    opts.onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** `folder-sync sync-once <src> <dst> ...flags` with the built CLI. */
export function runSync(src: string, dst: string, flags: readonly string[] = [], opts: CliOptions = {}): Promise<CliResult> {
  return runCli(['sync-once', src, dst, ...flags], opts);
}

/** The operation lines a pass printed on the console: "<action> <kind> <quoted path>[ (note)]". */
export function ops(stdout: string): string[] {
  return stdout.split('\n').filter((l) => /^(created|updated|removed) /.test(l));
}

/** A temp folder the CLI run `asUser` may write into (owned by the test user when running as root). */
export function userTempDir(prefix = 'fs-user-'): string {
  return tempDir(prefix, { forUser: true });
}

/** A process that takes the real ReplicaLock on `replica` and holds it until killed (at the latest when the test ends). */
export async function holdLock(replica: string, stateDir: string, mode = 'sync-once'): Promise<ChildProcess> {
  const lockModule = join(dirname(repoCli), 'sync', 'lock.js');
  const script =
    `const { ReplicaLock } = await import(${JSON.stringify(lockModule)});` +
    `new ReplicaLock(${JSON.stringify(replica)}, ${JSON.stringify(mode)}, ${JSON.stringify(stateDir)}).acquire();` +
    `process.stdout.write('held\\n'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
    child.on('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
  return child;
}
