/**
 * Issue 11, `restore` run as root: a kept folder keeps its owner, who may swap folders inside it for links to a
 * root-only sentinel while root restores it (renameat2 RENAME_EXCHANGE, in a loop). The restore reads the kept
 * tree through opened folders, so nothing of the sentinel is ever copied out, and the sentinel stays untouched.
 * Bounded by a number of restores, not time.
 */
import { lstatSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VersionStore } from '../../src/versions/store.js';
import { runCli } from '../_cli.js';
import { buildTree, bytes, compareTrees, giveToTestUser, snapshotTree, tempDir, type Spec } from '../_tree.js';
import { makeSentinel, startSwapper } from './_race.js';

const RESTORES = 12;
const FOLDERS = 8;

/** Every file's contents below `root`, links not followed (read with the swapper paused). */
function contents(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const st = lstatSync(path);
      if (st.isDirectory()) walk(path);
      else if (st.isFile()) out.push(readFileSync(path, 'latin1'));
    }
  };
  walk(root);
  return out;
}

describe('root restores a kept folder while its owner swaps folders inside it for links', () => {
  it(`${RESTORES} restores: nothing of the sentinel is restored, and it is untouched`, async () => {
    const sentinel = makeSentinel();
    const before = snapshotTree(sentinel);
    const secrets = contents(sentinel);

    const home = tempDir('fs-rrace-home-', { forUser: true });
    const album: Spec = {};
    for (let k = 0; k < FOLDERS; k++) {
      const files: Spec = {};
      for (let i = 0; i < 20; i++) files[`p${i}`] = bytes(500 + i, k * 100 + i);
      album[`sub${k}`] = files;
    }
    buildTree(home, { src: {}, rep: { album } });
    for (let k = 0; k < FOLDERS; k++) symlinkSync(sentinel, join(home, `evil${k}`));
    const v = join(home, 'v');
    const store = new VersionStore(v, { source: join(home, 'src'), replica: join(home, 'rep'), startedAt: Date.now() });
    store.keep(join(home, 'rep'), 'album', { path: 'album', kind: 'dir', action: 'removed' });
    store.close();
    giveToTestUser(home); // the kept folder keeps the user's ownership: the user can rename inside it
    const pass = readdirSync(v)
      .filter((n) => !n.startsWith('.'))
      .at(0) as string;
    const kept = join(v, pass, 'album');

    const pairs: [string, string][] = [];
    for (let k = 0; k < FOLDERS; k++) pairs.push([join(kept, `sub${k}`), join(home, `evil${k}`)]);
    const swapper = await startSwapper(pairs, tempDir('fs-rrace-ctl-', { forUser: true }));
    let swaps = 0;
    try {
      for (let n = 0; n < RESTORES; n++) {
        const out = join(home, `out${n}`);
        const r = await runCli(['restore', v, 'album', out], { timeoutMs: 120_000 });
        expect(r.stderr, `restore ${n}`).not.toMatch(/unexpected error|\n\s+at /);
        expect([0, 1, 2], `restore ${n}: ${r.stderr}`).toContain(r.code);
        expect(compareTrees(before, snapshotTree(sentinel)), `restore ${n}`).toEqual([]);
        await swapper.pause();
        const leaked = contents(home).filter((c) => secrets.includes(c));
        swapper.resume();
        expect(leaked, `restore ${n}`).toEqual([]);
      }
    } finally {
      swaps = await swapper.stop();
    }
    expect(swaps).toBeGreaterThan(0);
  }, 600_000);
});
