/**
 * Soak: 200 consecutive passes, in one process, over a tree mutated at random between passes (seeded: edits,
 * deletions, renames, file<->folder swaps, mode changes, new subtrees, links). Every pass is followed by a full
 * independent comparison of the two trees; open file descriptors and heap must not grow across passes, and
 * the state folder must not collect debris (locks) across passes.
 */
import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { syncOnce } from '../../src/sync/sync-once.js';
import { compareTrees, msToTimeSpec, snapshotTree, tempDir } from '../_tree.js';
import { Prng, tempsIn } from './_faults.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const PASSES = 200;
const BASE = 1_600_000_000_000;

function sample(): { fds: number; heap: number } {
  gc();
  gc();
  return { fds: readdirSync('/proc/self/fd').length, heap: process.memoryUsage().heapUsed };
}

/** One random change to the tree; returns a word for the failure message. */
function mutate(rng: Prng, root: string, round: number, serial: { n: number }): string {
  const all = [...snapshotTree(root)].filter(([p]) => p !== '.');
  const dirs = ['.', ...all.filter(([, s]) => s.type === 'dir').map(([p]) => p)];
  const pickPath = (): [string, string] | undefined => {
    const e = all.length ? rng.pick(all) : undefined;
    return e && [e[0], e[1].type];
  };
  const fresh = (): string => join(root, rng.pick(dirs), `n${serial.n++}`);
  const write = (path: string): void => {
    writeFileSync(path, rng.fill(Buffer.alloc(rng.int(0, 3000))));
    const t = BASE + round * 10_000 + serial.n++; // never the same ms twice: the quick check must see every edit
    utimesSync(path, msToTimeSpec(t), msToTimeSpec(t));
  };
  const what = rng.pick(['edit', 'edit', 'delete', 'rename', 'swap', 'mode', 'subtree', 'link', 'new']);
  const target = pickPath();
  switch (what) {
    case 'edit':
      if (target?.[1] === 'file') write(join(root, target[0]));
      else write(fresh());
      break;
    case 'delete':
      if (target) rmSync(join(root, target[0]), { recursive: true, force: true });
      break;
    case 'rename': {
      // Anywhere but into itself.
      const into = target && dirs.filter((d) => d !== target[0] && !d.startsWith(`${target[0]}/`));
      if (target && into?.length) renameSync(join(root, target[0]), join(root, rng.pick(into), `n${serial.n++}`));
      break;
    }
    case 'swap':
      if (target?.[1] === 'file') {
        rmSync(join(root, target[0]));
        mkdirSync(join(root, target[0]));
        write(join(root, target[0], 'inside'));
      } else if (target?.[1] === 'dir') {
        rmSync(join(root, target[0]), { recursive: true });
        write(join(root, target[0]));
      }
      break;
    case 'mode':
      if (target?.[1] === 'file') chmodSync(join(root, target[0]), rng.pick([0o644, 0o600, 0o755, 0o444, 0o640]));
      if (target?.[1] === 'dir') chmodSync(join(root, target[0]), rng.pick([0o755, 0o700, 0o750, 0o555]));
      break;
    case 'subtree': {
      const top = fresh();
      mkdirSync(top);
      for (let i = rng.int(0, 4); i >= 0; i--) write(join(top, `f${i}`));
      if (rng.chance(0.5)) {
        mkdirSync(join(top, 'deeper'));
        write(join(top, 'deeper', 'g'));
      }
      break;
    }
    case 'link':
      if (target?.[1] === 'symlink') {
        rmSync(join(root, target[0]));
        symlinkSync(`re-pointed-${round}`, join(root, target[0]));
      } else {
        symlinkSync(rng.pick(['../x', 'f0', '/etc/hostname', 'loop']), fresh());
      }
      break;
    default:
      write(fresh());
  }
  return what;
}

describe('soak', () => {
  it(`${PASSES} passes over a randomly mutated tree: exact after every pass; fds, heap and the state folder stay flat`, async () => {
    const state = tempDir('fs-soak-state-');
    process.env['FOLDER_SYNC_STATE_DIR'] = state;
    const rng = new Prng(20_261_125);
    const src = tempDir('fs-soak-src-');
    const dst = tempDir('fs-soak-dst-');
    const serial = { n: 0 };
    for (let i = 0; i < 40; i++) mutate(rng, src, 0, serial);
    const logger = createLogger([]);
    let warm: ReturnType<typeof sample> | undefined;
    const kinds = new Map<string, number>();
    for (let pass = 1; pass <= PASSES; pass++) {
      const done: string[] = [];
      for (let k = rng.int(1, 5); k > 0; k--) done.push(mutate(rng, src, pass, serial));
      for (const w of done) kinds.set(w, (kinds.get(w) ?? 0) + 1);
      const result = await syncOnce(src, dst, { logger });
      expect(result.exitCode, `pass ${pass} after ${done.join(', ')}`).toBe(0);
      expect(compareTrees(src, dst), `pass ${pass} after ${done.join(', ')}`).toEqual([]);
      if (pass === 20) warm = sample();
    }
    const end = sample();
    expect(tempsIn(dst)).toEqual([]);
    expect(readdirSync(join(state, 'locks')), 'no lock (or takeover file) left behind').toEqual([]);
    // Every kind of mutation really happened.
    for (const k of ['edit', 'delete', 'rename', 'swap', 'mode', 'subtree', 'link', 'new']) expect(kinds.get(k) ?? 0, k).toBeGreaterThan(5);
    expect(end.fds - (warm?.fds ?? 0), 'open file descriptors').toBeLessThanOrEqual(0);
    expect(end.heap - (warm?.heap ?? 0), 'heap growth in bytes').toBeLessThan(4 << 20);
    console.info(
      `soak: ${PASSES} passes, ${snapshotTree(src).size} entries at the end; fds ${warm?.fds} -> ${end.fds}, heap ${warm?.heap} -> ${end.heap}`,
    );
  });
});
