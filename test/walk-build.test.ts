/**
 * New folders built under a temporary name (issue 16, session 14; src/sync/walk-build.ts): a folder the pass
 * creates is made as a temporary, its new files are written under their own names inside it (no temporary and
 * no rename each), and the folder is renamed into place once they are complete: at the end of its walk, or as
 * soon as its subtree has taken its share (BUILD_FILES). Seen through the pass's real system calls (strace).
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OpenFolder } from '../src/sync/access.js';
import { defaultCapabilities } from '../src/sync/capabilities.js';
import { CopyPipeline } from '../src/sync/copy-pipeline.js';
import type { PassReport } from '../src/sync/pass-report.js';
import { looksLikeTempName, tempName } from '../src/sync/temp.js';
import { MAX_FILE } from '../src/sync/copy-batch.js';
import { finishBuild, makeNewFolder, writesFileDirect } from '../src/sync/walk-build.js';
import { MovedFolders } from '../src/sync/walk-replica.js';
import type { ChildProcess } from 'node:child_process';
import { ops, repoCli, runCli, runSync, userTempDir } from './_cli.js';
import { tempsIn, tornFiles } from './faults/_faults.js';
import { buildTree, bytes, compareTrees, dir, file, giveToTestUser, isRoot, snapshotTree, symlink, tempDir, type Spec } from './_tree.js';

const OLD = 1_500_000_000_000;

/** The pass gets `action` right after reading the first block of `path` (test/_mid-copy.mjs: no timing involved). */
const midCopy = (action: string, path: string): Record<string, string> => ({
  NODE_OPTIONS: `--import ${join(import.meta.dirname, '_mid-copy.mjs')}`,
  FOLDER_SYNC_TEST_MID_COPY: `${action}:${path}`,
});

/** A new folder of 5 files (fewer than a batch: the pass copies them itself, in order), the third one large. */
const fiveFiles = (): Spec => ({ dnew: { f0: 'zero', f1: 'one', f2: bytes(1 << 20, 2), f3: 'three', f4: 'four' } });

/** `n` files named `<prefix><i>`, with old times and a mode to mirror. */
function files(prefix: string, n: number): Spec {
  const out: Spec = {};
  for (let i = 0; i < n; i++) out[`${prefix}${i}`] = file(`${prefix} ${i}\n`, { mtime: OLD + i, mode: 0o640 });
  return out;
}

interface Renames {
  /** Renames from a temporary to a file's name. */
  files: string[];
  /** Renames from a temporary to a folder's name. */
  folders: string[];
}

/** Run a pass under strace and sort the renames it made from its temporaries by what they put in place. */
function tracedPass(src: string, dst: string, folders: readonly string[], env: Record<string, string> = {}): Renames & { stdout: string } {
  // One trace file per thread (-ff): a call interrupted by another thread's is never split over two lines.
  const trace = join(tempDir(), 'trace');
  const r = spawnSync(
    'strace',
    ['-ff', '-qq', '-e', 'trace=rename,renameat,renameat2', '-o', trace, process.execPath, repoCli, 'sync-once', src, dst, '--verbose'],
    { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } },
  );
  expect(r.status, r.stderr).toBe(0);
  const out: Renames & { stdout: string } = { files: [], folders: [], stdout: r.stdout };
  const traces = readdirSync(dirname(trace)).filter((n) => n.startsWith('trace.'));
  for (const line of traces.flatMap((n) => readFileSync(join(dirname(trace), n), 'utf8').split('\n'))) {
    const m = /rename\w*\(.*?"([^"]+)".*?"([^"]+)".*\) = 0/.exec(line);
    if (!m || !looksLikeTempName(basename(m[1] as string))) continue;
    const to = basename(m[2] as string);
    (folders.includes(to) ? out.folders : out.files).push(to);
  }
  return out;
}

describe('new folders built under a temporary name (issue 16)', () => {
  it('writes the files of a new folder under their own names, renaming only the folders into place', () => {
    const src = buildTree(tempDir(), {
      d0: files('f', 20),
      d1: dir({ ...files('f', 12), d2: dir(files('f', 9), { mode: 0o750, mtime: OLD }) }, { mode: 0o755, mtime: OLD + 5 }),
    });
    const dst = join(tempDir(), 'replica');
    const built = tracedPass(src, dst, ['d0', 'd1', 'd2']);
    expect(compareTrees(src, dst)).toEqual([]);
    expect(tempsIn(dst)).toEqual([]);
    expect(built.files).toEqual([]); // no file went through a temporary of its own
    expect(built.folders.sort()).toEqual(['d0', 'd1', 'd2']);
    expect(built.stdout).toMatch(/3 new folders built under a temporary name/);
    expect(ops(built.stdout)).toHaveLength(1 + 3 + 41); // the replica, every folder and file logged as created, as before

    // Without it (the benchmark's A/B switch), each file has its temporary and rename: the test sees the difference.
    const plain = tracedPass(src, join(tempDir(), 'replica'), ['d0', 'd1', 'd2'], { FOLDER_SYNC_BUILD: '0' });
    expect(plain.files).toHaveLength(41);
    expect(plain.folders).toEqual([]);
  });

  it('renames a folder into place once its subtree has taken its share; its later files get a temporary each', () => {
    // dbig/da (20 files) takes the share of 16: dbig is renamed before db0..db19 (after da in name order), which
    // then go through temporaries; dbig/dc, made after, is built (and renamed) on its own.
    const src = buildTree(tempDir(), { dbig: { da: files('f', 20), ...files('db', 20), dc: files('f', 5) } });
    const dst = join(tempDir(), 'replica');
    const folders = ['dbig', 'da', 'dc'];
    const built = tracedPass(src, dst, folders, { FOLDER_SYNC_TEST_BUILD_FILES: '16' });
    expect(compareTrees(src, dst)).toEqual([]);
    expect(tempsIn(dst)).toEqual([]);
    expect(built.files.sort()).toEqual(Object.keys(files('db', 20)).sort());
    expect(built.folders.sort()).toEqual(['da', 'dbig', 'dc']);

    const whole = tracedPass(src, join(tempDir(), 'replica'), folders); // the default share: all of it built
    expect(whole.files).toEqual([]);
  });

  it("removes a killed pass's temporary folder quietly: not logged, not counted by --max-delete, then mirrors the folder", async () => {
    const state = tempDir('fs-state-');
    process.env['FOLDER_SYNC_STATE_DIR'] = state; // the key the pass tags its temporaries with (temp.ts)
    const leftover = tempName();
    delete process.env['FOLDER_SYNC_STATE_DIR'];
    const src = buildTree(tempDir(), { dx: files('f', 3) });
    // As a pass makes it: this user's, 0700 (the same name on a folder made otherwise is a user entry: sync-once.test.ts).
    const dst = buildTree(tempDir(), { dx: files('f', 3), [leftover]: dir({ f0: 'half', dsub: { f1: 'x' } }, { mode: 0o700 }) });
    const r = await runSync(src, dst, ['--verbose', '--max-delete', '0'], { env: { FOLDER_SYNC_STATE_DIR: state } });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(dst, leftover))).toBe(false);
    expect(ops(r.stdout).filter((l) => /^removed (file|dir) /.test(l))).toEqual([]);
    expect(r.stdout).toMatch(/removed 0,/);
    expect(r.stdout).toContain(`removed leftover temporary folder ${JSON.stringify(leftover)}`);
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it("a folder given a temporary's name (a name anyone who listed the replica may have seen) but not as a pass makes it stays a user entry: --max-delete counts it", async () => {
    const state = tempDir('fs-state-');
    process.env['FOLDER_SYNC_STATE_DIR'] = state;
    const [open, theirs] = [tempName(), tempName()]; // names a pass made, so their tags verify
    delete process.env['FOLDER_SYNC_STATE_DIR'];
    const src = buildTree(tempDir(), { keep: { a: 'x' } });
    const dst = buildTree(tempDir(), {
      keep: { a: 'x' },
      [open]: dir({ 'precious.txt': 'replica-only data' }, { mode: 0o755 }), // this user's, but not 0700
      [theirs]: dir({ 'theirs.txt': 'replica-only data' }, { mode: 0o700 }), // 0700, but another user's (as root)
    });
    if (isRoot) giveToTestUser(join(dst, theirs));
    const strict = await runSync(src, dst, ['--max-delete', '0'], { env: { FOLDER_SYNC_STATE_DIR: state } });
    expect(strict.code, strict.stdout + strict.stderr).toBe(2); // refused: nothing changed
    expect(existsSync(join(dst, open, 'precious.txt'))).toBe(true);
    const r = await runSync(src, dst, [], { env: { FOLDER_SYNC_STATE_DIR: state } });
    expect(r.code, r.stderr).toBe(0);
    expect(ops(r.stdout)).toContain(`removed dir ${JSON.stringify(open)}`); // logged like any extra folder
    if (isRoot) expect(ops(r.stdout)).toContain(`removed dir ${JSON.stringify(theirs)}`);
  });

  it('as the unprivileged user: builds new folders, and removes its own leftover temporary folder quietly', async () => {
    const state = tempDir('fs-state-', { forUser: true });
    const env = { FOLDER_SYNC_STATE_DIR: state };
    const src = buildTree(userTempDir(), { dx: files('f', 3), dy: { dz: files('g', 2) } });
    giveToTestUser(src); // its files are 0640: the test user's own
    const dst = join(userTempDir(), 'replica');
    const first = await runSync(src, dst, ['--verbose'], { asUser: true, env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('3 new folders built under a temporary name');
    expect(compareTrees(src, dst)).toEqual([]);
    // A leftover as that user's killed pass leaves it: tagged with its key (made by the pass above), its own, 0700.
    process.env['FOLDER_SYNC_STATE_DIR'] = state;
    const leftover = tempName();
    delete process.env['FOLDER_SYNC_STATE_DIR'];
    buildTree(dst, { [leftover]: dir({ f0: 'half' }, { mode: 0o700 }) });
    giveToTestUser(join(dst, leftover));
    const again = await runSync(src, dst, ['--verbose', '--max-delete', '0'], { asUser: true, env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`removed leftover temporary folder ${JSON.stringify(leftover)}`);
    expect(existsSync(join(dst, leftover))).toBe(false);
  });

  it('a folder whose name is taken meanwhile is reported once and left under its temporary name; one swapped in at that name is not renamed', async () => {
    const parentPath = tempDir();
    const parent = OpenFolder.openRoot(parentPath);
    const caps = defaultCapabilities('ext4');
    const handled: string[] = [];
    const report = {
      handle: (kind: string, rel: string, e: unknown) => handled.push(`${kind} ${rel} ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`),
    } as unknown as PassReport;
    const host = { pipe: new CopyPipeline(), report, moved: new MovedFolders(report) };
    const folder = makeNewFolder(parent, join(parentPath, 'dnew'), 'dnew', 'dnew', caps, 0);
    const other = makeNewFolder(parent, join(parentPath, 'dother'), 'dother', 'dother', caps, 0);
    try {
      const names = readdirSync(parentPath);
      const tmp = names.find((n) => lstatSync(join(parentPath, n), { bigint: true }).ino === folder.stat().ino);
      const tmpOther = names.find((n) => n !== tmp);
      expect(looksLikeTempName(tmp as string) && looksLikeTempName(tmpOther as string)).toBe(true);
      expect(writesFileDirect(folder, 10)).toBe(true);
      writeFileSync(join(parentPath, tmp as string, 'f0'), 'complete');
      mkdirSync(join(parentPath, 'dnew'));
      writeFileSync(join(parentPath, 'dnew', 'theirs'), 'x');
      await finishBuild(folder, host);
      expect(handled).toHaveLength(1);
      expect(handled[0]).toMatch(/^dir dnew its new copy could not be put in place \(.*(ENOTEMPTY|EEXIST)\)/);
      expect(host.moved.holds(undefined, folder, 'dnew', 'dnew')).toBe(false); // reported: its mode and times are not set
      expect(readdirSync(join(parentPath, 'dnew'))).toEqual(['theirs']); // what was there is untouched
      expect(readdirSync(join(parentPath, tmp as string))).toEqual(['f0']); // left for the next pass to remove
      expect(writesFileDirect(folder, 10)).toBe(false); // decided: nothing more written under its own name

      // Another folder put at the temporary name (the one made moved aside): not renamed into place.
      renameSync(join(parentPath, tmpOther as string), join(parentPath, 'aside'));
      mkdirSync(join(parentPath, tmpOther as string));
      await finishBuild(other, host);
      expect(handled).toHaveLength(2);
      expect(existsSync(join(parentPath, 'dother'))).toBe(false);
      expect(existsSync(join(parentPath, tmpOther as string))).toBe(true);
    } finally {
      folder.close();
      other.close();
      parent.close();
    }
  });

  it('counts every file put in a folder being built towards its share, large ones (through a temporary) too', () => {
    // dbig/da holds 3 files over MAX_FILE (each through a temporary of its own): with a share of 2, dbig is
    // renamed before db0..db9 (after da in name order), which then go through temporaries as well.
    const big = (n: number): Spec => Object.fromEntries(Array.from({ length: n }, (_, i) => [`L${i}`, bytes(MAX_FILE + 1, i)]));
    const src = buildTree(tempDir(), { dbig: { da: big(3), ...files('db', 10) } });
    const dst = join(tempDir(), 'replica');
    const built = tracedPass(src, dst, ['dbig', 'da'], { FOLDER_SYNC_TEST_BUILD_FILES: '2' });
    expect(compareTrees(src, dst)).toEqual([]);
    expect(built.files.sort()).toEqual([...Object.keys(big(3)), ...Object.keys(files('db', 10))].sort());

    // Links and folders count too: dbig/da holds only 3 links, dbig/dc only 3 empty folders (review 14b).
    const variants: Spec[] = [
      { L0: symlink('t0'), L1: symlink('t1'), L2: symlink('t2') },
      { e0: {}, e1: {}, e2: {} },
    ];
    for (const inside of variants) {
      const tree = buildTree(tempDir(), { dbig: { da: inside, ...files('db', 10) } });
      const seen = tracedPass(tree, join(tempDir(), 'replica'), ['dbig', 'da', 'e0', 'e1', 'e2', 'L0', 'L1', 'L2'], {
        FOLDER_SYNC_TEST_BUILD_FILES: '2',
      });
      expect(seen.files.sort()).toEqual(Object.keys(files('db', 10)).sort());
    }
  });

  it('a copy helper dying half-way through a file written under its own name: that file is removed, never put in place half written', async () => {
    const src = buildTree(tempDir(), { dnew: files('f', 12) }); // a batch (8 or more new files)
    const dst = join(tempDir(), 'replica');
    const r = await runSync(src, dst, [], {
      env: {
        NODE_OPTIONS: `--import ${join(import.meta.dirname, '_copy-helper-dies.mjs')}`,
        FOLDER_SYNC_TEST_DYING_HELPER: './_copy-helper-dying-mid-write.mjs',
        FOLDER_SYNC_TEST_COPY_LATE: '1', // the helper takes the batch's first file before the pass takes any
      },
    });
    expect(r.stderr).toContain('test hook: helper died writing f0');
    expect(tempsIn(dst)).toEqual([]);
    expect(existsSync(join(dst, 'dnew', 'f0'))).toBe(false); // its source is gone: not copied, and not left half written
    expect(tornFiles(snapshotTree(dst), snapshotTree(src), new Map())).toEqual([]);
    expect(compareTrees(src, dst, { ignoreDirMtimes: true })).toEqual([]);
  });

  it('a pass stopped (SIGTERM) while building a folder puts it in place with the files it holds, and leaves no temporary', async () => {
    const src = buildTree(tempDir(), fiveFiles());
    const dst = join(tempDir(), 'replica');
    // `run` (the foreground loop) stops after the current file on SIGTERM; its first pass starts at once.
    const log = join(tempDir(), 'run.log');
    const r = await runCli(['run', src, dst, '1', 'hours', log], { env: midCopy('sigterm', join(src, 'dnew', 'f2')) });
    expect(r.stderr).toContain('test hook: sigterm');
    expect(r.code, r.stderr).toBe(0);
    expect(tempsIn(dst)).toEqual([]);
    expect(readdirSync(join(dst, 'dnew')).sort()).toEqual(['f0', 'f1', 'f2']); // stopped after f2, in place
    const source = snapshotTree(src);
    expect(tornFiles(snapshotTree(dst), source, new Map())).toEqual([]);
    const again = await runSync(src, dst);
    expect(again.code, again.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it('a pass killed while building a folder leaves it only under its temporary name; the next pass removes that and copies it', async () => {
    const src = buildTree(tempDir(), fiveFiles());
    const dst = join(tempDir(), 'replica');
    const spawned: { child?: ChildProcess } = {};
    const running = runCli(['sync-once', src, dst], { env: midCopy('pause', join(src, 'dnew', 'f2')), onSpawn: (c) => (spawned.child = c) });
    await new Promise<void>((resolve) => {
      spawned.child?.stderr?.on('data', (d: string | Buffer) => d.toString().includes('test hook: pause') && resolve());
      spawned.child?.once('exit', () => resolve());
    });
    spawned.child?.kill('SIGKILL');
    expect((await running).signal).toBe('SIGKILL');
    // f2 is half written, under its own name but inside the temporary folder: nothing is under "dnew" itself.
    expect(existsSync(join(dst, 'dnew'))).toBe(false);
    const [leftover] = tempsIn(dst);
    expect(tempsIn(dst)).toHaveLength(1);
    expect(readdirSync(join(dst, leftover as string)).sort()).toEqual(['f0', 'f1', 'f2']);
    expect(tornFiles(snapshotTree(dst), snapshotTree(src), new Map())).toEqual([]);
    const again = await runSync(src, dst, ['--verbose']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`removed leftover temporary folder ${JSON.stringify(leftover)}`);
    expect(tempsIn(dst)).toEqual([]);
    expect(compareTrees(src, dst)).toEqual([]);
  });
});
