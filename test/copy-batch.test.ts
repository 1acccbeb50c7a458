/**
 * Issue 16: runs of new files are copied on two cores (src/sync/copy-batch.ts). The helper's side does only the
 * plain case through the folders' handles and leaves anything else to the pass, with nothing left behind; the
 * pass logs in plan order whoever copied a file, and its result is the same as a pass without the helper.
 */
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeJob, sharedOf, workOn } from '../src/sync/copy-batch.js';
import { lstatEntry, type Entry } from '../src/sync/entry.js';
import { runCli, userTempDir } from './_cli.js';
import { buildTree, compareTrees, giveToTestUser, tempDir, type Spec } from './_tree.js';

const O_PATH = 0o10000000;

/**
 * Run one batch on this thread as the helper would (no `mine`): each file's final state. `files`: names listed
 * now, or entries listed earlier (the tree may have changed since).
 */
function asHelper(src: string, dst: string, files: (string | Entry)[], parent = '', above: string[] = [], path = ''): number[] {
  const listed = files.map((f) => (typeof f === 'string' ? lstatEntry(join(src, f), f) : f));
  const [shared] = sharedOf();
  if (!shared) throw new Error('no claim state');
  const srcFd = openSync(src, O_PATH);
  const dstFd = openSync(dst, O_PATH); // the pass's handle: it follows the folder wherever it moves
  try {
    Atomics.store(shared.claim, 0, 7n << 32n);
    const links = [...(parent ? [`${dstFd}:${parent}`] : []), ...above];
    const guards = { guards: links.join(','), path };
    workOn(shared, encodeJob(7, 0, srcFd, dstFd, guards, listed, true, false), listed.length);
    return listed.map((_, i) => Atomics.load(shared.ints, 4 + i));
  } finally {
    closeSync(srcFd);
    closeSync(dstFd);
  }
}

describe("the copy helper's side", () => {
  it('copies plain files through the handles: bytes, mode and times, no temporaries', () => {
    const src = buildTree(tempDir('fs-cb-src-'), { a: 'alpha', b: 'bravo', c: '' });
    const dst = tempDir('fs-cb-dst-');
    expect(asHelper(src, dst, ['a', 'b', 'c'])).toEqual([1, 1, 1]);
    expect(compareTrees(src, dst, { ignoreRoot: true })).toEqual([]);
    expect(readdirSync(dst).sort()).toEqual(['a', 'b', 'c']);
  });

  it('leaves a source swapped for a link, and one that vanished, to the pass; nothing is left behind', () => {
    const outside = buildTree(tempDir('fs-cb-out-'), { secret: 'not to be read' });
    const src = buildTree(tempDir('fs-cb-src-'), { a: 'alpha', link: 'was a file', gone: 'soon gone', z: 'zulu' });
    const dst = tempDir('fs-cb-dst-');
    const files = ['a', 'gone', 'link', 'z'];
    const listed = files.map((n) => lstatEntry(join(src, n), n));
    // After the listing: one file replaced by a link to elsewhere, one removed.
    renameSync(join(src, 'link'), join(outside, 'moved'));
    symlinkSync(join(outside, 'secret'), join(src, 'link'));
    renameSync(join(src, 'gone'), join(outside, 'gone'));
    expect(asHelper(src, dst, listed)).toEqual([1, 2, 2, 1]);
    expect(readdirSync(dst).sort()).toEqual(['a', 'z']); // no temporaries, nothing of the secret
  });

  it('a replica folder moved out of its parent gets nothing more', () => {
    const src = buildTree(tempDir('fs-cb-src-'), { a: 'alpha', b: 'bravo' });
    const base = tempDir('fs-cb-base-');
    const dst = join(base, 'rep');
    mkdirSync(dst);
    const st = lstatSync(base, { bigint: true });
    expect(asHelper(src, dst, ['a'], `${st.dev}:${st.ino}`)).toEqual([1]);
    const other = tempDir('fs-cb-other-');
    const moved = join(other, 'rep');
    renameSync(dst, moved);
    mkdirSync(dst); // where its path leads now: a fresh folder in the old parent
    expect(asHelper(src, moved, ['b'], `${st.dev}:${st.ino}`)).toEqual([2]);
    expect(readdirSync(moved)).toEqual(['a']);
  });
});

describe("the copy helper's checks of the folders above (walk-replica.ts Place.above)", () => {
  it('a folder above the replica folder, moved out of its own parent: the helper copies nothing more', () => {
    const src = buildTree(tempDir('fs-cb-src-'), { a: 'alpha', b: 'bravo' });
    const base = tempDir('fs-cb-base-');
    mkdirSync(join(base, 'u', 'rep'), { recursive: true });
    const st = lstatSync(base, { bigint: true });
    const uFd = openSync(join(base, 'u'), O_PATH); // the walk's handle on the folder above
    try {
      const above = [`${uFd}:${st.dev}:${st.ino}`];
      const where = join(base, 'u', 'rep'); // where it belongs: found there, the quick check passes (folder-guards.ts)
      expect(asHelper(src, where, ['a'], '', above, where)).toEqual([1]);
      const moved = join(tempDir('fs-cb-other-'), 'u');
      renameSync(join(base, 'u'), moved); // `rep`'s own `..` is still `u`: only the check of `u` sees it
      expect(asHelper(src, join(moved, 'rep'), ['b'], '', above, where)).toEqual([2]);
      expect(readdirSync(join(moved, 'rep'))).toEqual(['a']);
    } finally {
      closeSync(uFd);
    }
  });
});

describe('a pass with the copy helper', () => {
  function tree(): Spec {
    const spec: Spec = {};
    for (let i = 0; i < 300; i++) spec[`f${String(i).padStart(3, '0')}`] = `file ${i} `.repeat(i % 7);
    const sub: Spec = {};
    for (let i = 0; i < 40; i++) sub[`s${String(i).padStart(2, '0')}`] = `sub ${i}`;
    spec['sub'] = sub;
    return spec;
  }

  it('copies everything exactly and logs in plan order, like a pass without it', async () => {
    const src = buildTree(tempDir('fs-cbp-src-'), tree());
    const a = join(tempDir('fs-cbp-a-'), 'rep');
    const b = join(tempDir('fs-cbp-b-'), 'rep');
    const withHelper = await runCli(['sync-once', src, a]);
    const without = await runCli(['sync-once', src, b], { env: { FOLDER_SYNC_COPY_THREAD: '0' } });
    expect(withHelper.code, withHelper.stderr).toBe(0);
    expect(without.code, without.stderr).toBe(0);
    expect(compareTrees(src, a)).toEqual([]);
    const ops = (out: string): string[] => out.split('\n').filter((l) => /^(created|updated|removed) /.test(l));
    expect(ops(withHelper.stdout)).toEqual(ops(without.stdout));
    expect(ops(withHelper.stdout)).toHaveLength(342);
  });

  it('is used for runs of new files only: a no-op pass (or a run of fewer than 8) never starts it', async () => {
    const src = buildTree(tempDir('fs-cbp-src-'), tree());
    const dst = join(tempDir('fs-cbp-dst-'), 'rep');
    const first = await runCli(['sync-once', src, dst, '--verbose']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout + first.stderr).toMatch(/copied 340 new files in 2 batches on two cores/);
    expect(first.stdout + first.stderr).toMatch(/copy helper thread started/);
    const noop = await runCli(['sync-once', src, dst, '--verbose']);
    expect(noop.code, noop.stderr).toBe(0);
    expect(noop.stdout + noop.stderr).not.toMatch(/on two cores|copy helper thread/);
    const few = buildTree(tempDir('fs-cbp-few-'), { a: 'a', b: 'b', c: 'c', d: 'd', e: 'e', f: 'f', g: 'g' });
    const fewRun = await runCli(['sync-once', few, join(tempDir('fs-cbp-fd-'), 'rep'), '--verbose']);
    expect(fewRun.code, fewRun.stderr).toBe(0);
    expect(fewRun.stdout + fewRun.stderr).not.toMatch(/on two cores|copy helper thread/);
  });

  it('files neither thread can copy are reported in plan order; the rest is copied (as the test user)', async () => {
    const src = buildTree(tempDir('fs-cbp-src-', { forUser: true }), tree());
    for (const n of ['f010', 'f150', 'f299']) chmodSync(join(src, n), 0o000); // unreadable for their owner
    giveToTestUser(src);
    const dst = join(userTempDir('fs-cbp-dst-'), 'rep');
    const r = await runCli(['sync-once', src, dst], { asUser: true });
    expect(r.code, r.stderr).toBe(1);
    const failed = r.stderr.split('\n').filter((l) => l.startsWith('error: failed file'));
    expect(failed.map((l) => l.match(/"(f\d+)"/)?.[1])).toEqual(['f010', 'f150', 'f299']);
    expect(failed[0]).toMatch(/permission denied|EACCES/i);
    expect(readdirSync(dst).filter((n) => n.startsWith('.folder-sync'))).toEqual([]);
    expect(readdirSync(dst)).toHaveLength(300 - 3 + 1);
    for (const n of ['f010', 'f150', 'f299']) chmodSync(join(src, n), 0o644);
  });
});
