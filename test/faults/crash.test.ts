/**
 * Fault: kill -9 at any moment of a pass. After every kill, no file in the replica holds a torn copy under its
 * real name (each holds the source's bytes or the replica's bytes from before), the source is untouched, and
 * the next pass completes the mirror, leaves no temporaries, and is not blocked by the dead pass's lock.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, realpathSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockPath } from '../../src/sync/lock.js';
import { runCli, type CliResult } from '../_cli.js';
import { heldLog, LINES_TO_HOLD } from '../_held-log.js';
import { buildTree, bytes, compareTrees, msToTimeSpec, snapshotTree, tempDir } from '../_tree.js';
import { lockFiles, lostEntries, Prng, tempsIn, tornFiles, waitFor } from './_faults.js';

const OLD = 1_500_000_000_000;

interface Killed {
  result: CliResult;
  /** True when the pass was still running when it was killed. */
  killed: boolean;
}

/** Start a pass; kill -9 it as soon as `when` resolves (or when it says so). */
async function passKilledWhen(
  src: string,
  dst: string,
  state: string,
  when: (child: ChildProcess) => Promise<unknown>,
  flags: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<Killed> {
  const spawned: { child?: ChildProcess } = {};
  const running = runCli(['sync-once', src, dst, ...flags], { env: { FOLDER_SYNC_STATE_DIR: state, ...env }, onSpawn: (c) => (spawned.child = c) });
  const c = spawned.child;
  if (!c) throw new Error('the CLI was not spawned');
  let exited = false;
  c.on('exit', () => (exited = true));
  await when(c);
  if (!exited) c.kill('SIGKILL');
  const result = await running;
  return { result, killed: result.signal === 'SIGKILL' };
}

/** Resolves once the child has written `n` lines to stdout (a point inside its pass, at any speed), or has exited. */
function afterLines(child: ChildProcess, n: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    child.stdout?.on('data', (chunk: string | Buffer) => {
      seen += chunk.toString().split('\n').length - 1;
      if (seen >= n) resolve();
    });
    child.once('exit', () => resolve());
  });
}

async function completingPass(src: string, dst: string, state: string, flags: string[] = []): Promise<void> {
  const r = await runCli(['sync-once', src, dst, ...flags], { env: { FOLDER_SYNC_STATE_DIR: state } });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(compareTrees(src, dst)).toEqual([]);
  expect(tempsIn(dst)).toEqual([]);
  expect(lockFiles(state)).toEqual([]);
}

/** Random changes to the source and random damage to the replica, so every pass has copies, removals and fixes. */
function stir(rng: Prng, src: string, dst: string, round: number): void {
  for (let d = 0; d < 8; d++) {
    const sdir = join(src, `d${d}`);
    const rdir = join(dst, `d${d}`);
    mkdirSync(sdir, { recursive: true });
    for (let f = 0; f < 80; f++) {
      const name = `f${f}`;
      if (rng.chance(0.25) || !existsSync(join(sdir, name))) {
        writeFileSync(join(sdir, name), rng.fill(Buffer.alloc(rng.int(0, 6000))));
        const t = OLD + round * 1000 + f;
        utimesSync(join(sdir, name), msToTimeSpec(t), msToTimeSpec(t));
      }
      if (rng.chance(0.05)) rmSync(join(sdir, name));
      if (!existsSync(rdir)) continue;
      const r = join(rdir, name);
      try {
        if (rng.chance(0.15)) unlinkSync(r);
        // eslint-disable-next-line no-dupe-else-if -- each rng.chance() call draws a new number
        else if (rng.chance(0.15)) chmodSync(r, 0o600);
        else if (rng.chance(0.1)) writeFileSync(r, `stale ${round}`);
      } catch {
        // not in the replica yet
      }
    }
    if (existsSync(rdir) && rng.chance(0.5)) {
      mkdirSync(join(rdir, `extra${round}`), { recursive: true });
      for (let k = 0; k < 60; k++) writeFileSync(join(rdir, `extra${round}`, `x${k}`), `extra ${k}`);
    }
  }
  for (let b = 0; b < 2; b++) {
    if (rng.chance(0.4) || !existsSync(join(src, `big${b}`))) writeFileSync(join(src, `big${b}`), rng.fill(Buffer.alloc(rng.int(1, 4) << 20)));
  }
}

describe('kill -9 at any moment of a pass', () => {
  it('random kill points over many runs (seeded): never a torn file, the next pass completes, no temporaries, no blocking lock', async () => {
    const rng = new Prng(0x5eed_c0de);
    const src = tempDir('fs-kill-src-');
    const dst = tempDir('fs-kill-dst-');
    const state = tempDir('fs-kill-state-');
    // Rounds go on until 10 kills have landed inside a pass (a kill after the pass ended proves nothing).
    const wanted = 10;
    const maxRounds = 48; // a round whose pass prints fewer lines than drawn ends without a kill
    let midPass = 0;
    let round = 0;
    for (; round < maxRounds && midPass < wanted; round++) {
      stir(rng, src, dst, round);
      const source = snapshotTree(src);
      const before = snapshotTree(dst);
      // Killed after a seeded number of its output lines (the first is "pass started"), not after a time: the
      // kill lands inside the pass however fast the machine runs it.
      const lines = rng.int(1, 250);
      const { result, killed } = await passKilledWhen(src, dst, state, (child) => afterLines(child, lines));
      const after = snapshotTree(dst);
      expect(tornFiles(after, source, before), `round ${round}, killed after ${lines} lines`).toEqual([]);
      expect(compareTrees(source, snapshotTree(src)), 'the source is never modified').toEqual([]);
      if (killed) {
        midPass++;
      } else {
        expect(result.code, result.stderr).toBe(0);
      }
      await completingPass(src, dst, state);
    }
    console.info(`kill -9: ${midPass} of ${round} kills landed inside a pass`);
    expect(midPass).toBe(wanted);
  });

  it('with --versions (seeded kill points): every entry the replica held is in the replica or the versions folder, never in neither', async () => {
    const rng = new Prng(0x0a11_5afe);
    const src = tempDir('fs-kill-src-');
    const dst = tempDir('fs-kill-dst-');
    const versions = join(tempDir('fs-kill-v-'), 'versions');
    const state = tempDir('fs-kill-state-');
    const flags = ['--versions', versions, '--keep-versions', '1000'];
    const wanted = 10;
    let midPass = 0;
    let round = 0;
    for (; round < 48 && midPass < wanted; round++) {
      stir(rng, src, dst, round);
      const source = snapshotTree(src);
      const before = snapshotTree(dst);
      const lines = rng.int(1, 250);
      const { result, killed } = await passKilledWhen(src, dst, state, (child) => afterLines(child, lines), flags);
      const after = snapshotTree(dst);
      expect(lostEntries(before, after, versions), `round ${round}, killed after ${lines} lines`).toEqual([]);
      expect(tornFiles(after, source, before), `round ${round}`).toEqual([]);
      if (killed) midPass++;
      else expect(result.code, result.stderr).toBe(0);
      const settled = snapshotTree(dst);
      await completingPass(src, dst, state, flags);
      expect(lostEntries(settled, snapshotTree(dst), versions), `round ${round}, the pass after`).toEqual([]);
    }
    console.info(`kill -9 with --versions: ${midPass} of ${round} kills landed inside a pass`);
    expect(midPass).toBe(wanted);
  });

  it('during a large copy: the old version stays under the real name, the temporary is removed by the next pass', async () => {
    const src = tempDir('fs-kill-src-');
    const dst = tempDir('fs-kill-dst-');
    const state = tempDir('fs-kill-state-');
    buildTree(dst, { big: bytes(1 << 20, 3), keep: 'same' });
    buildTree(src, { big: new Prng(7).fill(Buffer.alloc(4 << 20)), keep: 'same' });
    const before = snapshotTree(dst);
    const source = snapshotTree(src);
    // The pass stops for good right after reading the first block of the copy (test/_mid-copy.mjs): the kill
    // lands during the copy at any machine speed.
    const midCopy = {
      NODE_OPTIONS: `--import ${join(import.meta.dirname, '..', '_mid-copy.mjs')}`,
      FOLDER_SYNC_TEST_MID_COPY: `pause:${join(src, 'big')}`,
    };
    const paused = (child: ChildProcess): Promise<void> =>
      new Promise((resolve) => {
        child.stderr?.on('data', (d: string | Buffer) => d.toString().includes('test hook: pause') && resolve());
        child.once('exit', () => resolve());
      });
    const { killed } = await passKilledWhen(src, dst, state, paused, [], midCopy);
    expect(killed).toBe(true);
    expect(tempsIn(dst), 'the kill landed during the copy').toHaveLength(1);
    expect(tornFiles(snapshotTree(dst), source, before)).toEqual([]);
    expect(snapshotTree(dst).get('big')?.hash).toBe(before.get('big')?.hash);
    expect(lockFiles(state), 'the dead pass left its lock').toHaveLength(1);
    await completingPass(src, dst, state);
  });

  it('during deletions: what is left is intact, the next pass finishes removing', async () => {
    const src = tempDir('fs-kill-src-');
    const dst = tempDir('fs-kill-dst-');
    const state = tempDir('fs-kill-state-');
    const extra: Record<string, string> = {};
    for (let i = 0; i < 6000; i++) extra[`x${String(i).padStart(5, '0')}`] = `extra ${i}`;
    buildTree(src, { a: 'a', z: 'z' });
    buildTree(dst, { extra });
    const before = snapshotTree(dst);
    const source = snapshotTree(src);
    const left = (): number => readdirSync(join(dst, 'extra')).length;
    // Its log is a FIFO the test does not read: one line per removal, so the pass blocks long before the last
    // one (see _held-log.ts) and the kill after the first removal lands mid-deletions at any machine speed.
    const log = heldLog();
    const { killed } = await passKilledWhen(src, dst, state, () => waitFor(() => left() < 6000), ['--log', log.path]);
    await log.drain();
    expect(killed).toBe(true);
    expect(left()).toBeGreaterThan(6000 - LINES_TO_HOLD);
    expect(tornFiles(snapshotTree(dst), source, before)).toEqual([]);
    await completingPass(src, dst, state);
  });

  it('during metadata fixes: files keep their bytes, the next pass finishes the fixes', async () => {
    const src = tempDir('fs-kill-src-');
    const dst = tempDir('fs-kill-dst-');
    const state = tempDir('fs-kill-state-');
    const files: Record<string, string> = {};
    for (let i = 0; i < LINES_TO_HOLD; i++) files[`m${String(i).padStart(5, '0')}`] = `content ${i}`;
    buildTree(src, { meta: files });
    await completingPass(src, dst, state);
    for (const name of Object.keys(files)) chmodSync(join(dst, 'meta', name), 0o600);
    const before = snapshotTree(dst);
    const source = snapshotTree(src);
    const fixed = (name: string): boolean => (lstatSync(join(dst, 'meta', name)).mode & 0o777) !== 0o600;
    // As above: the unread log holds the pass before its last fix, so the kill after the first one is mid-fixes.
    const log = heldLog();
    const { killed } = await passKilledWhen(src, dst, state, () => waitFor(() => fixed('m00000')), ['--log', log.path]);
    await log.drain();
    expect(killed).toBe(true);
    expect(fixed(`m${String(LINES_TO_HOLD - 1).padStart(5, '0')}`), 'the kill landed before the last fix').toBe(false);
    expect(tornFiles(snapshotTree(dst), source, before)).toEqual([]);
    await completingPass(src, dst, state);
  });

  describe('what a kill leaves at each step of taking the lock never blocks the next pass', () => {
    const deadPid = (): number => {
      const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
      return Number(r.stdout);
    };
    const cases: { name: string; leave: (lock: string) => void }[] = [
      { name: 'a draft record not yet linked into place', leave: (lock) => writeFileSync(`${lock}.${deadPid()}.draft`, '{}') },
      {
        name: 'a lock naming a dead holder',
        leave: (lock) => writeFileSync(lock, JSON.stringify({ pid: deadPid(), host: hostname(), replica: 'x', startedAt: 'then' })),
      },
      {
        name: 'an empty lock file older than 2 s (an older version killed between create and write)',
        leave: (lock) => {
          writeFileSync(lock, '');
          utimesSync(lock, (Date.now() - 3_000) / 1000, (Date.now() - 3_000) / 1000);
        },
      },
      {
        name: 'a takeover marker older than 10 s (killed while removing a stale lock)',
        leave: (lock) => {
          writeFileSync(`${lock}.takeover`, '');
          utimesSync(`${lock}.takeover`, (Date.now() - 11_000) / 1000, (Date.now() - 11_000) / 1000);
          writeFileSync(lock, JSON.stringify({ pid: deadPid(), host: hostname(), replica: 'x', startedAt: 'then' }));
        },
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const src = buildTree(tempDir('fs-lock-src-'), { a: 'a' });
        const dst = tempDir('fs-lock-dst-');
        const state = tempDir('fs-lock-state-');
        mkdirSync(join(state, 'locks'));
        c.leave(lockPath(realpathSync(dst), state));
        await completingPass(src, dst, state);
      });
    }
  });
});
