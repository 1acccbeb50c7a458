/**
 * Issue 16, the incremental row: an update's rename over the old copy runs beside the walk, on libuv's thread
 * pool (src/sync/walk-late.ts), and waits in the copy pipeline like a batch. Whole passes through the CLI on this
 * machine's ext4 /tmp, compared with the same passes with it off (FOLDER_SYNC_RENAME_LATER=0): the same replica
 * (folder times too: a rename changes its folder's mtime, so the folder's own times must be set after it) and
 * the same log lines in the same order. FOLDER_SYNC_TEST_COPY_LATE=1 starts each rename only when the pass comes
 * back for it, so every one is still pending while the walk goes on.
 */
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './_cli.js';
import { buildTree, compareTrees, tempDir, type Spec } from './_tree.js';

const off = { FOLDER_SYNC_RENAME_LATER: '0' };
const late = { FOLDER_SYNC_TEST_COPY_LATE: '1' };
const ops = (out: string): string[] => out.split('\n').filter((l) => /^(created|updated|removed|skipped|failed) /.test(l));
const besideWalk = (out: string): number => Number(/(\d+) updated files renamed over their old copies beside the walk/.exec(out)?.[1] ?? 0);

/** Folders three deep, four files each, one read-only folder per level. */
function tree(depth: number, tag = 'd'): Spec {
  const spec: Spec = {};
  for (let i = 0; i < 4; i++) spec[`f${i}.txt`] = `${tag} ${i}`;
  if (depth > 0) for (let w = 0; w < 3; w++) spec[`${tag}${w}`] = tree(depth - 1, `${tag}${w}`);
  return spec;
}

/** Every other file of the source rewritten (a new size: an update), some removed, across every folder. */
function edit(src: string): number {
  let edited = 0;
  const visit = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) visit(path);
      else if (name === 'f1.txt' || name === 'f3.txt') {
        writeFileSync(path, `edited ${path}`);
        edited++;
      }
    }
  };
  visit(src);
  return edited;
}

/** Every temporary the pass could have left (`.folder-sync-*` names) anywhere in `dir`. */
function temporaries(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => p.split('/').some((n) => n.startsWith('.folder-sync')));
}

describe('updates renamed over their old copies beside the walk (walk-late.ts)', () => {
  const readOnly = ['d0', 'd1/d10', 'd2/d21/d212'];

  it.each([
    ['as they come', {}],
    ['each still pending while the walk goes on', late],
  ])('%s: the same replica (folder modes and times too) and the same log, in order, as on the pass thread', async (_, mode) => {
    const src = buildTree(tempDir('fs-late-src-'), tree(3));
    for (const ro of readOnly) chmodSync(join(src, ro), 0o555);
    const a = join(tempDir('fs-late-a-'), 'rep');
    const b = join(tempDir('fs-late-b-'), 'rep');
    for (const dst of [a, b]) expect((await runCli(['sync-once', src, dst], { env: off })).code).toBe(0);
    for (const ro of readOnly) chmodSync(join(src, ro), 0o755);
    const edited = edit(src);
    for (const ro of readOnly) chmodSync(join(src, ro), 0o555);
    const beside = await runCli(['sync-once', src, a, '--verbose'], { env: mode });
    const onThread = await runCli(['sync-once', src, b, '--verbose'], { env: off });
    expect(beside.code, beside.stderr).toBe(0);
    expect(onThread.code, onThread.stderr).toBe(0);
    // Every update went beside the walk (the root's files included); none did with it off.
    expect(besideWalk(beside.stdout + beside.stderr)).toBe(edited);
    expect(besideWalk(onThread.stdout + onThread.stderr)).toBe(0);
    expect(edited).toBeGreaterThan(70);
    expect(compareTrees(src, a)).toEqual([]);
    expect(compareTrees(src, b)).toEqual([]);
    expect(ops(beside.stdout)).toEqual(ops(onThread.stdout));
    expect(ops(beside.stdout).filter((l) => l.startsWith('updated file'))).toHaveLength(edited);
    expect(temporaries(a)).toEqual([]);
    for (const ro of readOnly) chmodSync(join(src, ro), 0o755);
  });

  it.each([
    ['beside the walk', late],
    ['on the pass thread', off],
  ])('a rename that fails (a folder put in its place) %s: that file reported failed, its temporary removed, the rest done', async (_, mode) => {
    const src = buildTree(tempDir('fs-late-src-'), tree(1));
    const dst = join(tempDir('fs-late-dst-'), 'rep');
    expect((await runCli(['sync-once', src, dst], { env: off })).code).toBe(0);
    const edited = edit(src);
    const victim = join(dst, 'd1', 'f1.txt');
    const hook = { NODE_OPTIONS: `--import ${join(import.meta.dirname, '_rename-into-folder.mjs')}`, FOLDER_SYNC_TEST_RENAME_INTO: victim };
    const r = await runCli(['sync-once', src, dst], { env: { ...mode, ...hook } });
    expect(r.stderr).toContain(`test hook: folder in place of ${victim}`);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l.includes('failed file'))).toEqual(['error: failed file "d1/f1.txt": is a directory (EISDIR)']);
    expect(ops(r.stdout).filter((l) => l.startsWith('updated file'))).toHaveLength(edited - 1);
    expect(r.stdout).toMatch(new RegExp(`updated ${edited - 1}, removed 0, failed 1`));
    // The folder the hook put there is untouched, no temporary is left, everything else is mirrored.
    expect(readFileSync(join(victim, 'inside'), 'utf8')).toBe('not the pass');
    expect(temporaries(dst)).toEqual([]);
    expect(compareTrees(src, dst, { ignore: (p) => p === 'd1' || p.startsWith('d1/f1.txt') })).toEqual([]);
    // The next pass replaces the folder with the file, as always.
    const again = await runCli(['sync-once', src, dst], { env: mode });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it('with --versions the old copy is kept first, on the pass thread (nothing renamed beside the walk)', async () => {
    const src = buildTree(tempDir('fs-late-src-'), tree(1));
    const dst = join(tempDir('fs-late-dst-'), 'rep');
    expect((await runCli(['sync-once', src, dst], { env: off })).code).toBe(0);
    const before = readFileSync(join(dst, 'd0', 'f1.txt'), 'utf8');
    const edited = edit(src);
    const versions = join(dst, '..', 'versions');
    const r = await runCli(['sync-once', src, dst, '--versions', versions, '--verbose'], { env: late });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(besideWalk(r.stdout + r.stderr)).toBe(0);
    expect(ops(r.stdout).filter((l) => l.startsWith('updated file'))).toHaveLength(edited);
    expect(compareTrees(src, dst)).toEqual([]);
    const kept = readdirSync(versions, { recursive: true, encoding: 'utf8' }).filter((p) => p.endsWith('d0/f1.txt'));
    expect(kept).toHaveLength(1);
    expect(readFileSync(join(versions, kept[0] as string), 'utf8')).toBe(before);
    expect(existsSync(join(dst, 'd0', 'f1.txt'))).toBe(true);
  });
});
