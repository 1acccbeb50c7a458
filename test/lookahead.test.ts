/**
 * issue 16: the look-ahead thread (src/sync/lookahead.ts). What it reports as mirrored must be exactly what the
 * pass would leave unchanged; everything else must be walked by the pass as before. The first part runs its walk
 * (`verifyTree`) in this thread over real trees; the second runs the built CLI with
 * FOLDER_SYNC_TEST_LOOKAHEAD=first, so the thread has looked at everything before the pass walks (no timing).
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { defaultCapabilities } from '../src/sync/capabilities.js';
import { listIn, type Listing } from '../src/sync/entry.js';
import { loadHash, RANGE } from '../src/sync/compare.js';
import { AHEAD_AFTER, usable } from '../src/sync/lookahead.js';
import { holds, stillAhead, verifyTree, type AheadJob, type FolderPlan } from '../src/sync/lookahead-walk.js';
import { planDirOn } from '../src/sync/plan.js';
import { syncOnce } from '../src/sync/sync-once.js';
import { ops, runSync, userTempDir } from './_cli.js';
import { buildTree, compareTrees, dir, file, giveToTestUser, isRoot, msToTimeSpec, symlink, tempDir, type Spec } from './_tree.js';

const T = Date.UTC(2024, 0, 2, 3, 4, 5, 678);

/** Three levels, files at each, folders with their own times and modes. */
function spec(): Spec {
  const leaf = (k: string): Spec => ({ [`${k}1`]: `one ${k}`, [`${k}2`]: file(`two ${k}`.repeat(3), { mtime: T + 1 }), link: symlink(`../${k}`) });
  return {
    a: dir({ x: dir(leaf('ax'), { mtime: T }), y: dir(leaf('ay'), { mtime: T }), top: 'a top' }, { mtime: T }),
    b: dir({ x: dir(leaf('bx'), { mtime: T, mode: 0o750 }), y: dir({ deep: dir(leaf('bd'), { mtime: T }) }, { mtime: T }) }, { mtime: T }),
    c: dir(leaf('c'), { mtime: T }),
    'root-file': 'r',
  };
}

/** A source and a replica made identical by a pass. */
async function pair(): Promise<{ src: string; dst: string }> {
  const src = buildTree(tempDir('fs-la-src-'), spec());
  const dst = join(tempDir('fs-la-dst-'), 'rep');
  const r = await syncOnce(src, dst, { logger: createLogger([]) });
  expect(r.exitCode).toBe(0);
  expect(compareTrees(src, dst)).toEqual([]);
  return { src, dst };
}

function jobFor(src: string, dst: string): AheadJob {
  const s = lstatSync(src, { bigint: true });
  const d = lstatSync(dst, { bigint: true });
  return {
    source: src,
    replica: dst,
    sourceId: { dev: s.dev, ino: s.ino },
    replicaId: { dev: d.dev, ino: d.ino },
    caps: defaultCapabilities('ext4'),
    srcLocalTime: false,
    owners: false,
    checksum: false,
  };
}

/** What the walk reports as mirrored: folder -> source entries below it. */
function found(src: string, dst: string, opts: { passAt?: string[]; list?: (p: string) => Listing; job?: AheadJob } = {}): Map<string, number> {
  const out = new Map<string, number>();
  verifyTree(
    opts.job ?? jobFor(src, dst),
    {
      clean: (rel, checked) => out.set(rel, checked),
      ahead: (rel) => stillAhead(rel, opts.passAt ?? []),
      entered: (rel) => holds(rel, opts.passAt ?? []),
    },
    opts.list,
  );
  return out;
}

const ALL = ['a', 'a/x', 'a/y', 'b', 'b/x', 'b/y', 'b/y/deep', 'c'];

/** The folders the walk planned (folders with changes, lookahead.ts): folder -> its plan. */
function plansOf(src: string, dst: string, opts: { list?: (p: string) => Listing; job?: AheadJob } = {}): Map<string, FolderPlan> {
  const out = new Map<string, FolderPlan>();
  verifyTree(
    opts.job ?? jobFor(src, dst),
    { clean: () => undefined, planned: (rel, plan) => out.set(rel, plan), ahead: () => true, entered: () => false },
    opts.list,
  );
  return out;
}

// The block hash is loaded once per thread before contents are compared (compare.ts), as the pass does.
beforeAll(loadHash);

describe('the look-ahead walk', () => {
  it('reports every folder of an exact mirror (not the top), with the source entries below each', async () => {
    const { src, dst } = await pair();
    const got = found(src, dst);
    expect([...got.keys()].sort()).toEqual(ALL);
    // a: x, y, top + 3 in each of x and y; b/y: deep + its 3; c: 3.
    expect(got.get('a')).toBe(3 + 3 + 3);
    expect(got.get('b/y')).toBe(1 + 3);
    expect(got.get('c')).toBe(3);
    // Back to front, as the pass reaches them last: c before b before a, and a folder after its subfolders.
    const order = [...got.keys()];
    expect(order.indexOf('c')).toBeLessThan(order.indexOf('b'));
    expect(order.indexOf('b/y/deep')).toBeLessThan(order.indexOf('b/y'));
    expect(order.indexOf('b')).toBeLessThan(order.indexOf('a'));
  });

  // Each change in b/y/deep (or of that folder itself) must keep it and every folder holding it out of the report.
  const changes: [string, (src: string, dst: string) => void, string[]][] = [
    ['a file of another size', (s) => writeFileSync(join(s, 'b/y/deep/bd1'), 'longer now'), ['b', 'b/y', 'b/y/deep']],
    ['a file of the same size, another mtime', (s) => utimesSync(join(s, 'b/y/deep/bd1'), 1e6, 1e6), ['b', 'b/y', 'b/y/deep']],
    ['a file of another mode', (s) => chmodSync(join(s, 'b/y/deep/bd1'), 0o600), ['b', 'b/y', 'b/y/deep']],
    ['a new source file', (s) => writeFileSync(join(s, 'b/y/deep/new'), 'n'), ['b', 'b/y', 'b/y/deep']],
    ['an extra replica file', (_s, d) => writeFileSync(join(d, 'b/y/deep/extra'), 'e'), ['b', 'b/y', 'b/y/deep']],
    [
      'a link with another target',
      (s) => (unlinkSync(join(s, 'b/y/deep/link')), symlinkSync('elsewhere', join(s, 'b/y/deep/link'))),
      ['b', 'b/y', 'b/y/deep'],
    ],
    ['a file that became a folder', (s) => (rmSync(join(s, 'b/y/deep/bd2')), mkdirSync(join(s, 'b/y/deep/bd2'))), ['b', 'b/y', 'b/y/deep']],
    // The folder's own times are set by its parent's plan: the parent is not clean, the folder's contents are.
    ["the folder's own mtime", (s) => utimesSync(join(s, 'b/y/deep'), 1e6, 1e6), ['b', 'b/y']],
    ["the folder's own mode", (s) => chmodSync(join(s, 'b/y/deep'), 0o700), ['b', 'b/y']],
    [
      "something in the replica under a temporary's name",
      (_s, d) => writeFileSync(join(d, 'b/y/deep/.folder-sync-tmp-0-0'), ''),
      ['b', 'b/y', 'b/y/deep'],
    ],
  ];
  for (const [what, change, dirty] of changes) {
    it(`${what}: that folder and the ones holding it are not reported, the rest are`, async () => {
      const { src, dst } = await pair();
      change(src, dst);
      // A folder's mtime moved by the change itself is put back, so only the change is a difference.
      for (const side of [src, dst]) utimesSync(join(side, 'b/y/deep'), msToTimeSpec(T), msToTimeSpec(T));
      if (what.startsWith("the folder's own mtime")) utimesSync(join(src, 'b/y/deep'), 1e6, 1e6);
      const got = [...found(src, dst).keys()].sort();
      expect(got).toEqual(ALL.filter((f) => !dirty.includes(f)));
    });
  }

  it('stops where the pass has been: nothing the pass has left behind is reported, what is ahead is', async () => {
    const { src, dst } = await pair();
    // The pass has entered b/x: a is behind it (not looked at); b/y and c are ahead; b and b/x hold the pass
    // (what follows its position there is still ahead, so they are looked at too).
    const got = [...found(src, dst, { passAt: ['b', 'x'] }).keys()].sort();
    expect(got).toEqual(['b', 'b/x', 'b/y', 'b/y/deep', 'c']);
    expect([...found(src, dst, { passAt: ['c'] }).keys()]).toEqual(['c']);
    expect(stillAhead(['b'], ['b', 'x'])).toBe(true); // holds the pass: what follows b/x in b is ahead
    expect(stillAhead(['b', 'x'], ['b', 'x'])).toBe(true);
    expect(stillAhead(['a', 'z'], ['b'])).toBe(false);
    expect(stillAhead(['b', 'w'], ['b', 'x'])).toBe(false);
  });

  it('--checksum: a file of the same size and time with other bytes keeps its folder out; without it, it is not seen', async () => {
    const { src, dst } = await pair();
    const f = join(dst, 'b/y/deep/bd1');
    const st = lstatSync(f);
    writeFileSync(f, 'one bX'); // same length as "one bd"
    utimesSync(f, msToTimeSpec(st.mtimeMs), msToTimeSpec(st.mtimeMs)); // (rewriting a file leaves its folder's mtime as it was)
    const job = jobFor(src, dst);
    expect([...found(src, dst, { job: { ...job, checksum: true } }).keys()].sort()).toEqual(ALL.filter((x) => !['b', 'b/y', 'b/y/deep'].includes(x)));
    expect([...found(src, dst, { job }).keys()].sort()).toEqual(ALL);
  });

  it('--checksum: an equal file of more than one compare range is left to the pass (both its cores), so its folders are not reported', async () => {
    const { src, dst } = await pair();
    const big = Buffer.alloc(RANGE + 1, 7);
    for (const side of [src, dst]) {
      writeFileSync(join(side, 'b/y/deep/big'), big);
      utimesSync(join(side, 'b/y/deep/big'), 1e6, 1e6);
      utimesSync(join(side, 'b/y/deep'), msToTimeSpec(T), msToTimeSpec(T));
    }
    const job = jobFor(src, dst);
    expect([...found(src, dst, { job: { ...job, checksum: true } }).keys()].sort()).toEqual(ALL.filter((x) => !['b', 'b/y', 'b/y/deep'].includes(x)));
    expect([...found(src, dst, { job }).keys()].sort()).toEqual(ALL); // without --checksum its size and time say equal
  });

  it('--checksum: files of a folder the pass has entered are left to the pass (compared there), its subfolders are not', async () => {
    const { src, dst } = await pair();
    const job = { ...jobFor(src, dst), checksum: true };
    // The pass is in b/y: its folder b/y has no files of its own, b/y/deep is still ahead; b/x is behind.
    expect([...found(src, dst, { job, passAt: ['b', 'y'] }).keys()].sort()).toEqual(['b/y', 'b/y/deep', 'c']);
    // The pass is in a: a's own file ("top") is compared by the pass, so a is not reported; a/x and a/y are.
    expect([...found(src, dst, { job, passAt: ['a'] }).keys()].sort()).toEqual(ALL.filter((x) => x !== 'a'));
    expect(holds([], [])).toBe(true);
    expect(holds(['a'], [])).toBe(false);
    expect(holds(['a'], ['a', 'x'])).toBe(true);
    expect(holds(['a', 'x'], ['a'])).toBe(false);
    expect(holds(['b'], ['a'])).toBe(false);
  });

  it('exclude rules: a folder where anything is left out (either side) is not reported; the rest are, counted as filtered', async () => {
    const { src, dst } = await pair();
    writeFileSync(join(src, 'a/x/debug.log'), 'excluded in the source');
    writeFileSync(join(dst, 'b/y/deep/old.log'), 'left alone in the replica');
    writeFileSync(join(src, 'c/.gitignore'), 'c1\n'); // an ignore file: c1 is left out below c
    for (const [side, folder] of [
      [src, 'a/x'],
      [dst, 'b/y/deep'],
      [src, 'c'],
    ] as const)
      utimesSync(join(side, folder), msToTimeSpec(T), msToTimeSpec(T));
    // Without the rules these are differences; with them, only "something left out" keeps a folder unreported.
    const job: AheadJob = {
      ...jobFor(src, dst),
      filter: { spec: { rules: [{ exclude: '*.log' }], ignoreFiles: ['.gitignore'] }, deleteExcluded: false },
    };
    const got = found(src, dst, { job });
    expect([...got.keys()].sort()).toEqual(['a/y', 'b/x']);
    // The .gitignore itself is mirrored: c is not clean (the replica lacks it) and c1 left out.
    expect([...found(src, dst).keys()].sort()).toEqual(['a/y', 'b/x']);
    expect(got.get('a/y')).toBe(3);
  });

  it('a folder with changes is planned exactly as the pass plans it from the same listings, and so are the folders holding it; clean ones and the top are not', async () => {
    const { src, dst } = await pair();
    writeFileSync(join(src, 'b/y/deep/new'), 'new in the source');
    writeFileSync(join(src, 'a/x/ax1'), 'edited, longer than before');
    writeFileSync(join(dst, 'c/extra'), 'only in the replica');
    const plans = plansOf(src, dst);
    expect([...plans.keys()].sort()).toEqual(['a', 'a/x', 'b', 'b/y', 'b/y/deep', 'c']);
    const opts = { checksum: false, caps: defaultCapabilities('ext4'), srcLocalTime: false, owners: false };
    // Access times aside: listing a folder can move its own (relatime), and nothing compares them.
    const noAtime = (steps: unknown): unknown =>
      JSON.parse(JSON.stringify(steps, (k, v: unknown) => (k === 'atimeMs' ? undefined : typeof v === 'bigint' ? `${v}n` : v)));
    for (const [rel, plan] of plans) {
      const [s, d] = [listIn(join(src, rel)), listIn(join(dst, rel))];
      expect(noAtime(plan.steps), rel).toEqual(noAtime(planDirOn(s.entries, d.entries, opts)));
      expect(plan.checked, rel).toBe(s.entries.length); // its own entries: the pass counts those below as it walks them
    }
    const ops = (rel: string): string[] => plans.get(rel)!.steps.map((st) => `${st.op} ${'src' in st ? st.src.name : st.dst.name}`);
    expect(ops('b/y/deep')).toContain('copy new');
    expect(ops('a/x')).toContain('copy ax1');
    expect(ops('c')).toContain('remove extra');
    expect(ops('b/y')).toEqual(['descend deep']);
  });

  it('no plan where the pass would plan with more than the two listings: --checksum, exclude rules, a hard-linked replica entry, an entry it could not look at', async () => {
    const { src, dst } = await pair();
    writeFileSync(join(src, 'b/y/deep/new'), 'new in the source');
    writeFileSync(join(src, 'c/new'), 'new in the source');
    expect([...plansOf(src, dst).keys()].sort()).toEqual(['b', 'b/y', 'b/y/deep', 'c']);
    expect(plansOf(src, dst, { job: { ...jobFor(src, dst), checksum: true } }).size).toBe(0);
    const filter = { spec: { rules: [{ exclude: '*.log' }] }, deleteExcluded: false };
    expect(plansOf(src, dst, { job: { ...jobFor(src, dst), filter } }).size).toBe(0);
    // Listing problems in c (replica side): c has no plan; the others keep theirs.
    const list = (path: string): Listing => {
      const listing = listIn(path);
      if (path === join(dst, 'c')) listing.issues.push({ name: 'gone', error: Object.assign(new Error('EIO'), { code: 'EIO' }) });
      return listing;
    };
    expect([...plansOf(src, dst, { list }).keys()].sort()).toEqual(['b', 'b/y', 'b/y/deep']);
    // A replica file in b/y/deep with a second name (in a/x): neither folder is planned (the pass may change the
    // file's metadata through one name before it reaches the other).
    linkSync(join(dst, 'b/y/deep/bd1'), join(dst, 'a/x/twin'));
    expect([...plansOf(src, dst).keys()].sort()).toEqual(['a', 'b', 'b/y', 'c']);
  });

  it('a finding is used only for the folders it was made in (same source and replica inodes)', () => {
    expect(usable([12, { src: 5n, dst: 7n }], { src: 5n, dst: 7n })).toBe(12);
    expect(usable([12, { src: 5n, dst: 7n }], { src: 5n, dst: 8n })).toBeUndefined(); // replica folder replaced since
    expect(usable([12, { src: 5n, dst: 7n }], { src: 6n, dst: 7n })).toBeUndefined(); // source folder replaced since
    expect(usable([12, { src: 5n, dst: 7n }], {})).toBeUndefined();
    expect(usable(undefined, { src: 5n, dst: 7n })).toBeUndefined();
    // The same rule for a folder's plan.
    const plan: FolderPlan = { steps: [], checked: 3 };
    expect(usable([plan, { src: 5n, dst: 7n }], { src: 5n, dst: 7n })).toBe(plan);
    expect(usable([plan, { src: 5n, dst: 7n }], { src: 5n, dst: 8n })).toBeUndefined();
    expect(usable([plan, { src: 5n, dst: 7n }], { src: 6n, dst: 7n })).toBeUndefined();
  });

  it('a folder swapped for another while it is listed is not reported (nor anything holding it)', async () => {
    const { src, dst } = await pair();
    const swapped = join(src, 'b/y/deep');
    const list = (path: string): Listing => {
      const listing = listIn(path);
      if (path === swapped) {
        // Same contents, same times: another folder all the same (a new inode at the name).
        execFileSync('cp', ['-a', swapped, `${swapped}.new`]);
        renameSync(swapped, `${swapped}.old`);
        renameSync(`${swapped}.new`, swapped);
        utimesSync(join(src, 'b/y'), msToTimeSpec(T), msToTimeSpec(T));
      }
      return listing;
    };
    const got = [...found(src, dst, { list }).keys()].sort();
    expect(got).toEqual(ALL.filter((f) => !['b', 'b/y', 'b/y/deep'].includes(f)));
  });

  it('a folder with an entry it could not look at is not reported', async () => {
    const { src, dst } = await pair();
    const list = (path: string): Listing => {
      const listing = listIn(path);
      if (path === join(dst, 'a/x')) listing.issues.push({ name: 'gone', error: Object.assign(new Error('EIO'), { code: 'EIO' }) });
      return listing;
    };
    expect([...found(src, dst, { list }).keys()].sort()).toEqual(ALL.filter((f) => !['a', 'a/x'].includes(f)));
  });

  it('roots that are not the folders the pass opened: nothing is reported', async () => {
    const { src, dst } = await pair();
    const job = jobFor(src, dst);
    expect(found(src, dst, { job: { ...job, sourceId: { ...job.sourceId, ino: job.sourceId.ino + 1n } } }).size).toBe(0);
    expect(found(src, dst, { job: { ...job, replicaId: { ...job.replicaId, ino: job.replicaId.ino + 1n } } }).size).toBe(0);
  });

  it.runIf(isRoot)('a replica folder on another device (a mount below the replica) is not reported, nor what holds it', async () => {
    const { src, dst } = await pair();
    const mount = join(dst, 'b/y/deep');
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mount]);
    try {
      // The same contents on the mounted file system: only the device differs.
      execFileSync('cp', ['-a', `${join(src, 'b/y/deep')}/.`, mount]);
      utimesSync(mount, msToTimeSpec(T), msToTimeSpec(T));
      chmodSync(mount, lstatSync(join(src, 'b/y/deep')).mode & 0o7777);
      const got = [...found(src, dst).keys()].sort();
      expect(got).toEqual(ALL.filter((f) => !['b', 'b/y', 'b/y/deep'].includes(f)));
    } finally {
      execFileSync('umount', [mount]);
    }
  });
});

describe('passes with the look-ahead (built CLI, FOLDER_SYNC_TEST_LOOKAHEAD=first)', () => {
  const FIRST = { FOLDER_SYNC_TEST_LOOKAHEAD: 'first' };
  const OFF = { FOLDER_SYNC_LOOKAHEAD: '0' };

  /** A bigger tree: 12 folders of 3 levels, each with files. */
  function wide(): Spec {
    const s: Spec = {};
    for (let i = 0; i < 12; i++) {
      const inner: Spec = {};
      for (let j = 0; j < 4; j++) inner[`s${j}`] = { f: `f${i}${j}`, g: `g${i}${j}`, deeper: { h: `h${i}${j}` } };
      s[`d${String(i).padStart(2, '0')}`] = inner;
    }
    return s;
  }

  /** Four folders with one subfolder each, two files. */
  function four(): Spec {
    const s: Spec = {};
    for (let i = 0; i < 4; i++) s[`d${i}`] = { s: { f: 'same', g: `g${i}` } };
    return s;
  }

  function summary(log: string): { checked: number; created: number; updated: number; removed: number } {
    const lines = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    return lines.find((l) => l.type === 'summary') as never;
  }

  it('a no-op pass skips the subtrees the thread found mirrored, and counts the same entries as a pass without it', async () => {
    const src = buildTree(tempDir('fs-la-cli-src-'), wide());
    const dst = join(tempDir('fs-la-cli-dst-'), 'rep');
    expect((await runSync(src, dst)).code).toBe(0);
    const logs = tempDir('fs-la-cli-log-');
    const withIt = await runSync(src, dst, ['--verbose', '--log', join(logs, 'a.jsonl'), '--log-format', 'json'], { env: FIRST });
    const without = await runSync(src, dst, ['--verbose', '--log', join(logs, 'b.jsonl'), '--log-format', 'json'], { env: OFF });
    expect(withIt.code, withIt.stderr).toBe(0);
    expect(without.code, without.stderr).toBe(0);
    // All 12 top folders found mirrored (each with 4 x (3 + 1) + 4 entries = 20).
    expect(withIt.stdout + withIt.stderr).toMatch(/look-ahead thread: 12 subtrees \(240 entries\) found mirrored, not walked again/);
    expect(without.stdout + without.stderr).not.toMatch(/look-ahead/);
    expect(summary(join(logs, 'a.jsonl')).checked).toBe(12 + 240);
    expect(summary(join(logs, 'a.jsonl')).checked).toBe(summary(join(logs, 'b.jsonl')).checked);
  });

  it('changes anywhere (deep, last, of every kind) are all made, exactly as a pass without it makes them', async () => {
    const src = buildTree(tempDir('fs-la-cli-src-'), wide());
    const a = join(tempDir('fs-la-cli-a-'), 'rep');
    const b = join(tempDir('fs-la-cli-b-'), 'rep');
    expect((await runSync(src, a)).code).toBe(0);
    expect((await runSync(src, b)).code).toBe(0);
    // In the source: an edit deep in the last folder, a new file, a mode, a removed subtree, a folder's time.
    writeFileSync(join(src, 'd11/s3/deeper/h'), 'edited, longer');
    writeFileSync(join(src, 'd07/s1/new'), 'new');
    chmodSync(join(src, 'd05/s2/f'), 0o600);
    rmSync(join(src, 'd09/s0'), { recursive: true });
    utimesSync(join(src, 'd03/s3'), 1e6, 1e6);
    // In both replicas: an extra file, a changed file of the same size and time.
    for (const rep of [a, b]) {
      writeFileSync(join(rep, 'd10/s2/deeper/extra'), 'x');
      const g = join(rep, 'd08/s0/g');
      const st = lstatSync(g);
      writeFileSync(g, 'xxx');
      utimesSync(g, msToTimeSpec(st.mtimeMs), msToTimeSpec(st.mtimeMs));
      const t = msToTimeSpec(lstatSync(join(src, 'd10/s2/deeper')).mtimeMs);
      utimesSync(join(rep, 'd10/s2/deeper'), t, t);
    }
    const withIt = await runSync(src, a, ['--verbose'], { env: FIRST });
    const without = await runSync(src, b, [], { env: OFF });
    expect(withIt.code, withIt.stderr).toBe(0);
    expect(without.code, without.stderr).toBe(0);
    expect(ops(withIt.stdout)).toEqual(ops(without.stdout));
    expect(ops(withIt.stdout).length).toBeGreaterThanOrEqual(6);
    // The quick check does not see d08/s0/g (same size and time): neither pass does, both leave it.
    expect(compareTrees(src, a).filter((d) => !d.includes('d08/s0/g'))).toEqual([]);
    expect(compareTrees(src, b).filter((d) => !d.includes('d08/s0/g'))).toEqual([]);
    // Folders with no change were not walked again.
    const m = /look-ahead thread: (\d+) subtrees/.exec(withIt.stdout + withIt.stderr);
    expect(Number(m?.[1])).toBeGreaterThanOrEqual(5);
    // And the folders with changes were applied from the thread's plans, not listed again: d11, d11/s3,
    // d11/s3/deeper; d07, d07/s1; d05, d05/s2; d09; d03; d10, d10/s2, d10/s2/deeper (d08/s0 has none the quick check sees).
    expect(withIt.stdout + withIt.stderr).toMatch(/; 12 folders with changes planned by it, not listed again/);
  });

  /** A pass that, once the thread has looked at everything, waits until `between` has changed the trees. */
  async function gated(src: string, dst: string, between: () => void): Promise<Awaited<ReturnType<typeof runSync>>> {
    const gate = join(tempDir('fs-la-gate-'), 'gate');
    let over = false;
    const run = runSync(src, dst, ['--verbose'], { env: { ...FIRST, FOLDER_SYNC_TEST_LOOKAHEAD_GATE: gate } }).finally(() => (over = true));
    while (!existsSync(`${gate}.ready`) && !over) await new Promise((r) => setTimeout(r, 5));
    between();
    writeFileSync(`${gate}.go`, '');
    return run;
  }

  it('a folder replaced after the thread planned it (source or replica side) is listed and planned by the pass itself', async () => {
    const src = buildTree(tempDir('fs-la-cli-src-'), wide());
    const dst = join(tempDir('fs-la-cli-dst-'), 'rep');
    expect((await runSync(src, dst)).code).toBe(0);
    // Changes in d04/s1, d06/s2 and d08/s3: the thread plans those folders and the ones holding them.
    for (const f of ['d04/s1/f', 'd06/s2/f', 'd08/s3/f']) writeFileSync(join(src, f), 'edited, longer');
    const replace = (folder: string, change: (copy: string) => void): void => {
      execFileSync('cp', ['-a', folder, `${folder}.new`]);
      change(`${folder}.new`);
      renameSync(folder, `${folder}.old`);
      renameSync(`${folder}.new`, folder);
      rmSync(`${folder}.old`, { recursive: true });
    };
    const r = await gated(src, dst, () => {
      // After the plans were made, before the pass lists the top folder: another source folder at d04 (in d04/s1
      // a new file, one gone) and another replica folder at d06 (in d06/s2 a file the source does not have).
      replace(join(src, 'd04'), (copy) => (writeFileSync(join(copy, 's1/late'), 'late'), rmSync(join(copy, 's1/g'))));
      replace(join(dst, 'd06'), (copy) => writeFileSync(join(copy, 's2/intruder'), 'x'));
    });
    expect(r.code, r.stderr).toBe(0);
    expect(ops(r.stdout)).toEqual(
      expect.arrayContaining(['created file "d04/s1/late"', 'removed file "d04/s1/g"', 'updated file "d04/s1/f"', 'removed file "d06/s2/intruder"']),
    );
    expect(compareTrees(src, dst)).toEqual([]);
    // Only the plans made in the same folders were used: d08 and d08/s3.
    expect(r.stdout + r.stderr).toMatch(/; 2 folders with changes planned by it, not listed again/);
  });

  it('an entry a plan names that is no longer as planned (same file, another mode, size or owner): the plan is dropped and the pass lists the folder itself', async () => {
    const src = buildTree(tempDir('fs-la-cli-src-'), wide());
    const dst = join(tempDir('fs-la-cli-dst-'), 'rep');
    expect((await runSync(src, dst)).code).toBe(0);
    for (const f of ['d02/s1/f', 'd05/s2/g', 'd08/s3/f']) writeFileSync(join(src, f), 'edited, longer');
    writeFileSync(join(dst, 'd10/s0/extra'), 'only in the replica');
    const r = await gated(src, dst, () => {
      // After the plans: the same files changed again in place (another mode; another size), and the replica's
      // extra file too. A plan applied as it stands would copy the old mode and leave the longer file short.
      chmodSync(join(src, 'd02/s1/f'), 0o640);
      writeFileSync(join(src, 'd05/s2/g'), 'edited again, longer still');
      writeFileSync(join(dst, 'd10/s0/extra'), 'grown since');
    });
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    expect(ops(r.stdout)).toEqual(expect.arrayContaining(['removed file "d10/s0/extra"', 'updated file "d05/s2/g"']));
    // d02/s1, d05/s2 and d10/s0 dropped; d02, d05, d08, d08/s3, d10 applied.
    expect(r.stdout + r.stderr).toMatch(/; 5 folders with changes planned by it, not listed again \(3 more dropped: an entry no longer as planned\)/);
  });

  it("a plan's removal of a name the source has again since: the plan is dropped (the name must be absent from the source), the replica keeps its copy", async () => {
    const src = buildTree(tempDir('fs-la-cli-src-'), wide());
    const dst = join(tempDir('fs-la-cli-dst-'), 'rep');
    expect((await runSync(src, dst)).code).toBe(0);
    writeFileSync(join(dst, 'd03/s2/back'), 'only in the replica'); // planned: remove d03/s2/back
    const r = await gated(src, dst, () => writeFileSync(join(src, 'd03/s2/back'), 'in the source again'));
    expect(r.code, r.stderr).toBe(0);
    expect(ops(r.stdout)).toEqual(['updated file "d03/s2/back"', 'updated dir "d03/s2" (metadata: mtime)']);
    expect(compareTrees(src, dst)).toEqual([]);
    // d03 (its s2 has another time now) and d03/s2 (the removal) dropped.
    expect(r.stdout + r.stderr).toMatch(/; 0 folders with changes planned by it, not listed again \(2 more dropped: an entry no longer as planned\)/);
  });

  it('plans waiting in the pass are capped in steps (memory): past the cap the thread holds plans back and the pass lists those folders, with the same result', async () => {
    const src = buildTree(tempDir('fs-la-cli-src-'), wide());
    const a = join(tempDir('fs-la-cli-a-'), 'rep');
    const b = join(tempDir('fs-la-cli-b-'), 'rep');
    for (const rep of [a, b]) expect((await runSync(src, rep)).code).toBe(0);
    for (let i = 0; i < 12; i++) writeFileSync(join(src, `d${String(i).padStart(2, '0')}/s1/f`), 'edited, longer');
    // first: every plan would wait at once (24: d00..d11 and their s1, 2 steps... each); at most 6 steps may.
    const capped = await runSync(src, a, ['--verbose'], { env: { ...FIRST, FOLDER_SYNC_TEST_PLAN_STEPS: '6' } });
    const without = await runSync(src, b, [], { env: OFF });
    expect(capped.code, capped.stderr).toBe(0);
    expect(ops(capped.stdout)).toEqual(ops(without.stdout));
    expect(ops(capped.stdout)).toHaveLength(12);
    expect(compareTrees(src, a)).toEqual([]);
    const m = /; (\d+) folders with changes planned by it, not listed again; (\d+) plans held back \(too many steps waiting\)/.exec(
      capped.stdout + capped.stderr,
    );
    expect(m, capped.stdout + capped.stderr).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![1]) + Number(m![2])).toBe(24);
  });

  it('a folder replaced below a planned one after the plan: the plan naming it is dropped, the pass lists that folder and mirrors the new one', async () => {
    const src = buildTree(tempDir('fs-la-cli-src-'), wide());
    const dst = join(tempDir('fs-la-cli-dst-'), 'rep');
    expect((await runSync(src, dst)).code).toBe(0);
    writeFileSync(join(src, 'd04/s1/f'), 'edited, longer');
    const r = await gated(src, dst, () => {
      execFileSync('cp', ['-a', join(src, 'd04/s1'), join(src, 'd04/s1.new')]);
      writeFileSync(join(src, 'd04/s1.new/late'), 'late');
      renameSync(join(src, 'd04/s1'), join(tempDir('fs-la-cli-old-'), 's1'));
      renameSync(join(src, 'd04/s1.new'), join(src, 'd04/s1'));
    });
    // d04's plan (same folder) names the s1 it saw; the one there now is another (its inode): that plan is
    // dropped, d04 is listed by the pass, and the new s1 is mirrored like any folder (its own plan was made for
    // the old one: not used either).
    expect(r.code, r.stderr).toBe(0);
    expect(ops(r.stdout)).toEqual(expect.arrayContaining(['created file "d04/s1/late"', 'updated file "d04/s1/f"']));
    expect(compareTrees(src, dst)).toEqual([]);
    expect(r.stdout + r.stderr).toMatch(/; 0 folders with changes planned by it, not listed again \(1 more dropped: an entry no longer as planned\)/);
  });

  it('--checksum: a same-size, same-time edit deep in the last folder is found and copied; the rest is skipped', async () => {
    const src = buildTree(tempDir('fs-la-cli-src-'), wide());
    const dst = join(tempDir('fs-la-cli-dst-'), 'rep');
    expect((await runSync(src, dst)).code).toBe(0);
    const g = join(dst, 'd11/s2/deeper/h');
    const st = lstatSync(g);
    writeFileSync(g, 'xxx');
    utimesSync(g, msToTimeSpec(st.mtimeMs), msToTimeSpec(st.mtimeMs));
    const r = await runSync(src, dst, ['--verbose', '--checksum'], { env: FIRST });
    expect(r.code, r.stderr).toBe(0);
    expect(ops(r.stdout)).toEqual(['updated file "d11/s2/deeper/h"']);
    expect(compareTrees(src, dst)).toEqual([]);
    // 11 top folders, and in d11 the subfolders s0, s1, s3 (and s2's files compared by the pass).
    expect(r.stdout + r.stderr).toMatch(/look-ahead thread: 14 subtrees/);
  });

  it('exclude rules: the same changes and the same "excluded" lines as a pass without it; clean folders skipped', async () => {
    const src = buildTree(tempDir('fs-la-cli-src-'), wide());
    const a = join(tempDir('fs-la-cli-a-'), 'rep');
    const b = join(tempDir('fs-la-cli-b-'), 'rep');
    const rules = ['--exclude', '*.tmp', '--exclude', 'deeper/', '--ignore-file', '.fsignore'];
    expect((await runSync(src, a, rules)).code).toBe(0);
    expect((await runSync(src, b, rules)).code).toBe(0);
    writeFileSync(join(src, 'd10/s1/x.tmp'), 'left out');
    writeFileSync(join(src, 'd11/s2/f'), 'edited, longer');
    writeFileSync(join(src, 'd11/.fsignore'), 's3/\n');
    for (const rep of [a, b]) {
      writeFileSync(join(rep, 'd09/s0/old.tmp'), 'left alone');
      utimesSync(join(rep, 'd09/s0/old.tmp'), msToTimeSpec(T), msToTimeSpec(T));
    }
    const lines = (out: string): string[] => out.split('\n').filter((l) => /^(created|updated|removed) |excluded|left alone/.test(l));
    const withIt = await runSync(src, a, ['--verbose', ...rules], { env: FIRST });
    const without = await runSync(src, b, ['--verbose', ...rules], { env: OFF });
    expect(withIt.code, withIt.stderr).toBe(0);
    expect(without.code, without.stderr).toBe(0);
    expect(lines(withIt.stdout + withIt.stderr)).toEqual(lines(without.stdout + without.stderr));
    expect(lines(withIt.stdout + withIt.stderr).length).toBeGreaterThanOrEqual(16); // 12 x deeper/, and the rest
    expect(compareTrees(a, b)).toEqual([]);
    // Every s folder holds a deeper/ that is left out: only folders without one are skipped (none at s level);
    // the top folders hold them too. So: nothing skipped here, and nothing missed.
    expect(withIt.stdout + withIt.stderr).toMatch(/look-ahead thread: \d+ subtrees/);
  });

  it('a thread that fails mid-walk: the pass uses what it posted and walks the rest, exactly as without it', async () => {
    const src = buildTree(tempDir('fs-la-cli-src-'), wide());
    const dst = join(tempDir('fs-la-cli-dst-'), 'rep');
    expect((await runSync(src, dst)).code).toBe(0);
    writeFileSync(join(src, 'd00/s1/f'), 'edited, longer');
    writeFileSync(join(src, 'd11/s1/f'), 'edited, longer');
    const r = await runSync(src, dst, ['--verbose'], { env: { FOLDER_SYNC_TEST_LOOKAHEAD: 'first-crash' } });
    expect(r.code, r.stderr).toBe(0);
    expect(ops(r.stdout)).toEqual(['updated file "d00/s1/f"', 'updated file "d11/s1/f"']);
    expect(compareTrees(src, dst)).toEqual([]);
    // Its one finding before it failed (d11/s3/deeper, the last folder of the tree) was used.
    expect(r.stdout + r.stderr).toMatch(/look-ahead thread: 1 subtrees \(1 entries\)/);
  });

  // Found by review: the pass sets metadata in place, so a replica file hard-linked into another subtree changes
  // there too before the pass arrives; a folder holding such a replica entry is never reported.
  it('a hard link in the replica across two subtrees: the metadata the pass sets on the first reaches the second', async () => {
    const src = buildTree(tempDir('fs-rv-src-'), four());
    const reps = [join(tempDir('fs-rv-a-'), 'rep'), join(tempDir('fs-rv-b-'), 'rep')];
    for (const f of ['d0/s/f', 'd3/s/f']) utimesSync(join(src, f), msToTimeSpec(1.7e12), msToTimeSpec(1.7e12));
    for (const rep of reps) {
      expect((await runSync(src, rep)).code).toBe(0);
      // The replica was seeded with hard links (cp -al, rsync -H): d3/s/f is d0/s/f.
      unlinkSync(join(rep, 'd3/s/f'));
      linkSync(join(rep, 'd0/s/f'), join(rep, 'd3/s/f'));
      const t = msToTimeSpec(lstatSync(join(src, 'd3/s')).mtimeMs);
      utimesSync(join(rep, 'd3/s'), t, t);
    }
    chmodSync(join(src, 'd0/s/f'), 0o600); // d3/s/f stays 0o644
    const withIt = await runSync(src, reps[0]!, ['--verbose'], { env: FIRST });
    const without = await runSync(src, reps[1]!, ['--verbose'], { env: OFF });
    expect(withIt.code, withIt.stderr).toBe(0);
    expect(without.code, without.stderr).toBe(0);
    // Without the thread the pass puts d3/s/f's mode back (0o644) after changing d0/s/f's.
    expect(ops(without.stdout)).toEqual(['updated file "d0/s/f" (metadata: mode)', 'updated file "d3/s/f" (metadata: mode)']);
    expect(ops(withIt.stdout)).toEqual(ops(without.stdout));
    expect(lstatSync(join(reps[0]!, 'd3/s/f')).mode & 0o777).toBe(0o644);
  });

  it.runIf(isRoot)(
    'as the unprivileged user: a replica folder it cannot list and a source folder it cannot read are handled as without it',
    async () => {
      const src = buildTree(userTempDir('fs-la-u-src-'), wide());
      giveToTestUser(src);
      const reps = [join(userTempDir('fs-la-u-a-'), 'rep'), join(userTempDir('fs-la-u-b-'), 'rep')] as const;
      for (const rep of reps) expect((await runSync(src, rep, [], { asUser: true })).code).toBe(0);
      writeFileSync(join(src, 'd11/s2/deeper/h'), 'edited, longer'); // behind a replica folder its owner locked
      for (const rep of reps) chmodSync(join(rep, 'd11/s2/deeper'), 0o000);
      // A source folder the user cannot read (its replica copy the same mode, so only the reading differs).
      chmodSync(join(src, 'd10/s1'), 0o000);
      for (const rep of reps) chmodSync(join(rep, 'd10/s1'), 0o000);
      try {
        const withIt = await runSync(src, reps[0], ['--verbose'], { asUser: true, env: FIRST });
        const without = await runSync(src, reps[1], ['--verbose'], { asUser: true, env: OFF });
        const problems = (out: string): string[] => out.split('\n').filter((l) => /^(error|warning):/.test(l));
        expect(withIt.code, withIt.stderr).toBe(1); // the unreadable source folder is a failure
        expect(without.code, without.stderr).toBe(1);
        expect(ops(withIt.stdout)).toEqual(ops(without.stdout));
        expect(ops(withIt.stdout)).toContain('updated file "d11/s2/deeper/h"');
        expect(problems(withIt.stderr)).toEqual(problems(without.stderr));
        expect(problems(withIt.stderr).join('\n')).toMatch(/d10\/s1/);
        expect(compareTrees(reps[0], reps[1])).toEqual([]);
        expect(withIt.stdout + withIt.stderr).toMatch(/look-ahead thread: \d+ subtrees/);
      } finally {
        chmodSync(join(src, 'd10/s1'), 0o755);
      }
    },
  );

  it('exclude rules: subtrees with nothing left out are skipped', async () => {
    const src = buildTree(tempDir('fs-la-cli-src-'), wide());
    const dst = join(tempDir('fs-la-cli-dst-'), 'rep');
    expect((await runSync(src, dst, ['--exclude', '*.tmp'])).code).toBe(0);
    writeFileSync(join(src, 'd00/s0/x.tmp'), 'left out');
    utimesSync(join(src, 'd00/s0'), msToTimeSpec(T), msToTimeSpec(T));
    utimesSync(join(dst, 'd00/s0'), msToTimeSpec(T), msToTimeSpec(T));
    const r = await runSync(src, dst, ['--verbose', '--exclude', '*.tmp'], { env: FIRST });
    expect(r.code, r.stderr).toBe(0);
    expect(ops(r.stdout)).toEqual([]);
    expect(r.stdout + r.stderr).toMatch(/excluded "d00\/s0\/x.tmp"/);
    // d01..d11 whole, in d00 the subfolders s1, s2, s3, and s0/deeper (s0 is walked: it holds what is left out).
    expect(r.stdout + r.stderr).toMatch(/look-ahead thread: 15 subtrees/);
  });

  it(`starts the thread only once the pass has looked at ${AHEAD_AFTER} entries: never for a smaller tree, on the way for a bigger one`, async () => {
    const tree = (files: number): Spec => {
      const s: Spec = {};
      for (let d = 0; d < 10; d++) s[`d${d}`] = Object.fromEntries(Array.from({ length: files }, (_, i) => [`f${i}`, `${d}-${i}`]));
      return s;
    };
    // 10 folders of 150 files: 1,510 entries. 10 folders of 300: the pass has looked at 2,000 by its 8th folder.
    for (const [files, started] of [
      [150, false],
      [300, true],
    ] as const) {
      const src = buildTree(tempDir('fs-la-cli-src-'), tree(files));
      const dst = join(tempDir('fs-la-cli-dst-'), 'rep');
      expect((await runSync(src, dst)).code).toBe(0);
      const r = await runSync(src, dst, ['--verbose']);
      expect(r.code, r.stderr).toBe(0);
      expect(ops(r.stdout)).toEqual([]);
      if (started) expect(r.stdout + r.stderr).toMatch(/look-ahead thread: \d+ subtrees/);
      else expect(r.stdout + r.stderr).not.toMatch(/look-ahead/);
    }
  });
});
