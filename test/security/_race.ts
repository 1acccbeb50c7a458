/**
 * Race-test helpers: the hostile user (swapper.py, run as the unprivileged test user) swapping folders in a
 * loop, and the sentinel folder that must come out of every race byte for byte and mode for mode untouched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, TEST_USER, tempDir } from '../_tree.js';
import { waitFor } from '../faults/_faults.js';

const SWAPPER = readFileSync(join(import.meta.dirname, 'swapper.py'));

export interface Swapper {
  /** Hold the loop still (resolves once it has stopped swapping), so the trees can be looked at without a race. */
  pause(): Promise<void>;
  resume(): void;
  /** Stop the loop; resolves to the number of swaps it made. */
  stop(): Promise<number>;
}

/**
 * Start exchanging each pair of paths (renameat2 RENAME_EXCHANGE) in a loop, as the test user when the suite
 * runs as root. Resolves once the first round of swaps is done (a file it writes, not a delay).
 */
export async function startSwapper(pairs: [string, string][], control: string): Promise<Swapper> {
  const stop = join(control, 'stop');
  const ready = join(control, 'ready');
  const argv = ['python3', '-', stop, ready, ...pairs.flat()];
  const [cmd, ...args] = isRoot ? ['runuser', '-u', TEST_USER, '--', ...argv] : argv;
  const child: ChildProcess = spawn(cmd as string, args, { stdio: ['pipe', 'ignore', 'inherit'] });
  child.stdin?.end(SWAPPER);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  if (!(await waitFor(() => existsSync(ready) || child.exitCode !== null, 30_000, 5))) throw new Error('the swapper did not start');
  if (!existsSync(ready)) throw new Error(`the swapper exited with ${child.exitCode} before its first round`);
  return {
    async pause(): Promise<void> {
      writeFileSync(`${stop}.pause`, '');
      if (!(await waitFor(() => existsSync(`${stop}.paused`) || child.exitCode !== null, 30_000, 1))) throw new Error('the swapper did not pause');
    },
    resume(): void {
      rmSync(`${stop}.pause`, { force: true });
    },
    async stop(): Promise<number> {
      writeFileSync(stop, '');
      const code = await exited;
      if (code !== 0) throw new Error(`the swapper exited with ${code}`);
      return Number(readFileSync(ready, 'utf8'));
    },
  };
}

/** A root-owned 0700 folder with files (and a 0700 subfolder), outside every tree. */
export function makeSentinel(prefix = 'fs-sentinel-'): string {
  const root = tempDir(prefix);
  writeFileSync(join(root, 'secret.txt'), 'root only: must never be read into a replica, changed or removed');
  mkdirSync(join(root, 'inner'));
  writeFileSync(join(root, 'inner', 'key'), 'another secret');
  chmodSync(join(root, 'inner', 'key'), 0o600);
  chmodSync(join(root, 'inner'), 0o700);
  chmodSync(root, 0o700);
  return root;
}
