/**
 * Fault: hostile names and shapes. Names that try to break log lines or the command line, unicode twins,
 * 255-byte names, trees deeper than PATH_MAX (4,096 bytes), symlink loops, replica links pointing outside
 * the replica, and a replica folder swapped for a link while the pass runs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import type { LogObject } from 'consola';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type LogEvent } from '../../src/log.js';
import { syncOnce } from '../../src/sync/sync-once.js';
import { runCli } from '../_cli.js';
import { buildTree, bytes, compareTrees, dir, file, nested, snapshotTree, symlink, tempDir, type Spec, type TreeSnapshot } from '../_tree.js';
import { tempsIn } from './_faults.js';

beforeAll(() => {
  process.env['FOLDER_SYNC_STATE_DIR'] = tempDir('fs-state-');
});

// Trees deeper than PATH_MAX cannot be removed with full paths (Node's rmSync): `rm -rf` works relatively.
const deepRoots: string[] = [];
afterAll(() => {
  for (const root of deepRoots) execFileSync('rm', ['-rf', root]);
});

/** Build `levels` nested folders of `name` below `at` with a file at the bottom, using relative paths (cd). */
function deepChain(at: string, name: string, levels: number): void {
  execFileSync('bash', [
    '-c',
    `cd "$1" && for i in $(seq "$2"); do mkdir "$3" && cd "$3"; done && echo bottom > leaf`,
    '_',
    at,
    String(levels),
    name,
  ]);
}

const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARN|ERROR) \S/;

describe('hostile names', () => {
  const names: Spec = {
    'line\nbreak': 'newline',
    'fake\n2030-01-01T00:00:00.000Z INFO removed file "everything"': 'forged line attempt',
    'carriage\rreturn': 'cr',
    'quote"double': 'q',
    "quote'single": 'q',
    '100%': 'percent',
    '%s%n%x': 'printf',
    '*': 'star',
    '[a-z]?': 'glob',
    '-rf': 'dash',
    '--help': 'double dash',
    '-': 'just a dash',
    '$(echo pwned)': 'shell',
    '`id`': 'backticks',
    'caf\u00e9': 'NFC',
    'cafe\u0301': 'NFD',
    'sep\u2028line': 'unicode line separator',
    'ctrl\u0001\u007f\u0085': 'controls',
    ['x'.repeat(255)]: '255 bytes',
    ['\u00e9'.repeat(127) + 'z']: '255 utf-8 bytes',
    ['\u{1F600}'.repeat(63) + 'abc']: '255 bytes of emoji',
    '.folder-sync-partial-notatemp': 'looks like a temporary but is not one',
    loop: symlink('loop'),
    'loop-a': symlink('loop-b'),
    'loop-b': symlink('loop-a'),
    'dir\nwith newline': dir({ '-inner': file('x'), '*': dir({}) }),
    deep: dir(nested(60, 'level', { bottom: file(bytes(70_000, 5)) })),
  };

  it('are mirrored exactly; every log line stays one well-formed line (none can be forged)', async () => {
    const src = buildTree(tempDir('fs-names-src-'), names);
    const dst = join(tempDir('fs-names-dst-'), 'replica');
    const log = join(tempDir('fs-names-log-'), 'pass.log');
    const r = await runCli(['sync-once', src, dst, '--log', log]);
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    const lines = readFileSync(log, 'utf8').split('\n').slice(0, -1);
    for (const line of lines) expect(line).toMatch(LOG_LINE);
    const created = lines.filter((l) => / INFO created /.test(l));
    expect(created).toHaveLength(snapshotTree(src).size); // every entry (the root included) is exactly one line
    expect(lines.some((l) => /^\S+ INFO removed /.test(l))).toBe(false);
    const again = await runCli(['sync-once', src, dst]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/created 0, updated 0, removed 0, failed 0/);
  });

  it('folder arguments that start with a dash are taken literally after --', async () => {
    const cwd = tempDir('fs-dash-');
    buildTree(cwd, { '-src': { '-f': 'dash file', '--x': { y: 'y' } } });
    const r = await runCli(['sync-once', '--', '-src', '--dst'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(join(cwd, '-src'), join(cwd, '--dst'))).toEqual([]);
  });

  it('a dash argument without -- is a usage error (exit 2, one line), nothing created', async () => {
    const cwd = tempDir('fs-dash-');
    buildTree(cwd, { '-src': { f: 'f' } });
    const r = await runCli(['sync-once', '-src', 'dst'], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(existsSync(join(cwd, 'dst'))).toBe(false);
  });
});

describe('paths longer than PATH_MAX (4,096 bytes)', () => {
  // The walk goes folder by folder through opened handles (src/sync/access.ts), never by whole paths, so depth
  // is no limit: everything is mirrored and removed, and log lines carry the long relative paths.
  it('a source deeper than PATH_MAX: everything is mirrored, bottom included; a second pass changes nothing', async () => {
    const src = tempDir('fs-deep-src-');
    const dst = tempDir('fs-deep-dst-');
    deepRoots.push(src, dst);
    buildTree(src, { shallow: 'ok', z: { also: 'ok' } });
    deepChain(src, 'd'.repeat(200), 30); // 30 x 201 bytes: past 4,096 around level 20
    const r = await runCli(['sync-once', src, dst]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
    expect(readFileSync(join(dst, 'shallow'), 'utf8')).toBe('ok');
    expect(readFileSync(join(dst, 'z', 'also'), 'utf8')).toBe('ok');
    expect(readDeepLeaf(dst, 'd'.repeat(200), 30)).toBe('bottom\n');
    expect(tempsIn(dst)).toEqual([]);
    const again = await runCli(['sync-once', src, dst]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/created 0, updated 0, removed 0, failed 0/);
  });

  it('a replica holding a tree deeper than PATH_MAX to remove: all of it is removed, the rest is mirrored', async () => {
    const src = buildTree(tempDir('fs-deep-src-'), { keep: 'keep' });
    const dst = tempDir('fs-deep-dst-');
    deepRoots.push(dst);
    deepChain(dst, 'e'.repeat(200), 30);
    const r = await runCli(['sync-once', src, dst]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/removed 31,/); // 30 folders and the file at the bottom, each one logged
    expect(existsSync(join(dst, 'e'.repeat(200)))).toBe(false);
    expect(readFileSync(join(dst, 'keep'), 'utf8')).toBe('keep');
  });
});

/** The bottom file of a `deepChain`, read with relative steps (its whole path is past PATH_MAX). */
function readDeepLeaf(at: string, name: string, levels: number): string {
  return execFileSync('bash', ['-c', 'cd "$1" && for i in $(seq "$2"); do cd "$3"; done && cat leaf', '_', at, String(levels), name], {
    encoding: 'utf8',
  });
}

describe('links in the replica', () => {
  it('links pointing outside the replica: replaced or removed, nothing written or deleted through them', async () => {
    const outside = buildTree(tempDir('fs-outside-'), { 'victim-dir': { precious: 'precious' }, 'victim-file': 'precious file' });
    const before = snapshotTree(outside);
    const src = buildTree(tempDir('fs-links-src-'), { sub: { precious: 'from source', more: 'more' }, f: 'source f' });
    const dst = buildTree(tempDir('fs-links-dst-'), {
      sub: symlink(join(outside, 'victim-dir')),
      f: symlink(join(outside, 'victim-file')),
      extra: symlink(join(outside, 'victim-dir')),
      'extra-rel': symlink('../../..'),
    });
    const r = await runCli(['sync-once', src, dst]);
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    expect(compareTrees(before, snapshotTree(outside))).toEqual([]);
  });

  it('a replica folder swapped for a link to elsewhere while the pass runs: nothing is written there', async () => {
    const outside = buildTree(tempDir('fs-outside-'), { untouched: 'untouched' });
    const before = snapshotTree(outside);
    const src = tempDir('fs-swap-src-');
    const dst = tempDir('fs-swap-dst-');
    const files: Spec = {};
    for (let i = 0; i < 20; i++) files[`f${String(i).padStart(2, '0')}`] = `version 2 of ${i}`;
    buildTree(src, { a: 'a', sub: { ...files, inner: { deeper: 'x' } } });
    buildTree(dst, { sub: { f05: 'old', stale: 'stale', 'stale-dir': { s: 's' } } });
    let swapped = false;
    const logger = createLogger([
      {
        log(obj: LogObject) {
          const e = obj['event'] as LogEvent | undefined;
          if (!swapped && e?.type === 'op' && e.path === 'sub/f03') {
            swapped = true;
            renameSync(join(dst, 'sub'), join(dst, 'sub-moved'));
            symlinkSync(outside, join(dst, 'sub'));
          }
        },
      },
    ]);
    const result = await syncOnce(src, dst, { logger });
    expect(swapped).toBe(true);
    expect(result.exitCode).toBe(1);
    expect(compareTrees(before, snapshotTree(outside))).toEqual([]);
    // The next pass replaces the link with a real folder and removes the moved one.
    const next = await syncOnce(src, dst, { logger: createLogger([]) });
    expect(next.exitCode).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    expect(compareTrees(before, snapshotTree(outside))).toEqual([]);
  });

  /** The preload that moves the replica's `sub` to `moved` while the pass copies `sub/f03` (test/_mid-copy.mjs). */
  function moveAtF03(src: string, dst: string, moved: string): NodeJS.ProcessEnv {
    return {
      NODE_OPTIONS: `--import ${join(import.meta.dirname, '..', '_mid-copy.mjs')}`,
      FOLDER_SYNC_TEST_MID_COPY: `move:${join(src, 'sub', 'f03')}`,
      FOLDER_SYNC_TEST_MOVE_FROM: join(dst, 'sub'),
      FOLDER_SYNC_TEST_MOVE_TO: moved,
    };
  }

  /**
   * A source folder `sub` of 20 files and its replica copy, plus a folder outside both to move the copy into.
   * The source folder's time (2010) is one the replica's folder gets only if the pass sets it (metadata after contents).
   */
  function movingTrees(): { outside: string; src: string; dst: string } {
    const outside = tempDir('fs-outside-');
    const src = tempDir('fs-move-src-');
    const dst = tempDir('fs-move-dst-');
    const files: Spec = {};
    for (let i = 0; i < 20; i++) files[`f${String(i).padStart(2, '0')}`] = `file ${i}`;
    buildTree(src, { sub: files });
    buildTree(dst, { sub: { stale: 'stale' } });
    utimesSync(join(src, 'sub'), 1262304000, 1262304000);
    return { outside, src, dst };
  }

  it('a replica folder moved out of the replica while the pass runs: nothing more is written into it', async () => {
    const { outside, src, dst } = movingTrees();
    let moved: TreeSnapshot | undefined;
    const logger = createLogger([
      {
        log(obj: LogObject) {
          const e = obj['event'] as LogEvent | undefined;
          if (!moved && e?.type === 'op' && e.path === 'sub/f03') {
            renameSync(join(dst, 'sub'), join(outside, 'moved')); // same file system, outside the replica
            moved = snapshotTree(outside);
          }
        },
      },
    ]);
    const result = await syncOnce(src, dst, { logger });
    expect(moved).toBeDefined();
    expect(result.exitCode).toBe(1);
    // The opened folder now sits outside the replica: not one more file, removal or mode change in it.
    expect(compareTrees(moved as TreeSnapshot, snapshotTree(outside))).toEqual([]);
    expect(readdirSync(join(outside, 'moved')).sort()).toEqual(['f00', 'f01', 'f02', 'f03', 'stale']);
  });

  it('the same through the CLI (the working folder pinned in the replica folder): nothing more is written into it', async () => {
    const { outside, src, dst } = movingTrees();
    const moved = join(outside, 'moved');
    const r = await runCli(['sync-once', src, dst], {
      // One thread: which file is in flight when the folder moves is then exact (with the copy helper, one file a
      // thread may be; see the next test, and test/copy-batch.test.ts for the helper's own check).
      env: { ...moveAtF03(src, dst, moved), FOLDER_SYNC_COPY_THREAD: '0' },
    });
    expect(r.stderr).toMatch(/^test hook: move /m);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
    // f03 was being copied when its folder moved: it is installed there (the temporary was in it), and nothing after.
    expect(readdirSync(moved).sort()).toEqual(['f00', 'f01', 'f02', 'f03', 'stale']);
    expect(Math.floor(statSync(moved).mtimeMs)).not.toBe(1262304000000); // its time not set
    expect(r.stderr).not.toMatch(/updated dir "sub"/);
  });

  it('the same with the copy helper on (both threads check before each file): the folder is reported, not filled', async () => {
    const { outside, src, dst } = movingTrees();
    const moved = join(outside, 'moved');
    const r = await runCli(['sync-once', src, dst], {
      env: moveAtF03(src, dst, moved),
    });
    expect(r.stderr).toMatch(/^test hook: move /m);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/failed dir "sub": it was moved or replaced while the pass ran; nothing more was written into it or below it/);
    // Whichever thread copied what: files in flight when it moved may land there, the rest of the 20 do not.
    const there = readdirSync(moved).filter((n) => n.startsWith('f'));
    expect(there).toContain('f03');
    expect(there.length).toBeLessThan(20);
    expect(Math.floor(statSync(moved).mtimeMs)).not.toBe(1262304000000);
  });
});
