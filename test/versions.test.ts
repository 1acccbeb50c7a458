/**
 * The versions folder's rules and its store, called directly: pass-folder names, retention, --at, the
 * --versions refusals, keeping entries (moved whole, or linked for updates), the catalog, pruning, restore.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseVersionsArgs } from '../src/commands/_args.js';
import { RefusedError, UsageError } from '../src/errors.js';
import { keptBelow, readCatalog, versionsOf } from '../src/versions/catalog.js';
import { checkVersionsDir } from '../src/versions/guards.js';
import {
  atOrBefore,
  comparePasses,
  META_DIR,
  normaliseReplicaPath,
  parseAt,
  parsePassFolderName,
  passesToPrune,
  passFolderName,
  type PassName,
  type Retention,
} from '../src/versions/names.js';
import { prunedLine, pruneVersions } from '../src/versions/prune.js';
import { pickVersion, restoreVersion } from '../src/versions/restore.js';
import { VersionStore, type KeptLine } from '../src/versions/store.js';
import { mountTmpfs } from './faults/_faults.js';
import { buildTree, compareTrees, dir, file, snapshotTree, symlink, tempDir } from './_tree.js';

const T0 = Date.UTC(2026, 10, 28, 5, 30, 0, 700);
const DAY = 86_400_000;

describe('pass folder names', () => {
  it('are the UTC start second, sortable, with a -N suffix for later passes of the same second', () => {
    expect(passFolderName(T0)).toBe('2026-11-28T05-30-00Z');
    expect(passFolderName(T0, 2)).toBe('2026-11-28T05-30-00Z-2');
    expect(passFolderName(Date.UTC(999, 0, 2, 3, 4, 5))).toBe('0999-01-02T03-04-05Z');
  });

  const parses: [string, PassName | undefined][] = [
    ['2026-11-28T05-30-00Z', { name: '2026-11-28T05-30-00Z', time: Date.UTC(2026, 10, 28, 5, 30, 0), seq: 1 }],
    ['2026-11-28T05-30-00Z-12', { name: '2026-11-28T05-30-00Z-12', time: Date.UTC(2026, 10, 28, 5, 30, 0), seq: 12 }],
    ['2026-02-31T00-00-00Z', undefined],
    ['2026-11-28T05-30-00Z-0', undefined],
    ['2026-11-28T05:30:00Z', undefined],
    ['2026-11-28T25-30-00Z', undefined],
    ['photos', undefined],
  ];
  for (const [name, want] of parses) it(`parse ${JSON.stringify(name)}`, () => expect(parsePassFolderName(name)).toEqual(want));

  it('order by time, then by the same-second number (-10 after -2)', () => {
    const names = ['2026-11-28T05-30-00Z-10', '2026-11-28T05-30-01Z', '2026-11-28T05-30-00Z-2', '2026-11-28T05-30-00Z'];
    const sorted = names
      .map((n) => parsePassFolderName(n) as PassName)
      .sort(comparePasses)
      .map((p) => p.name);
    expect(sorted).toEqual(['2026-11-28T05-30-00Z', '2026-11-28T05-30-00Z-2', '2026-11-28T05-30-00Z-10', '2026-11-28T05-30-01Z']);
  });
});

describe('retention', () => {
  const passes = [40, 20, 8, 6, 1, 0].map((daysAgo) => parsePassFolderName(passFolderName(T0 - daysAgo * DAY)) as PassName);
  const ago = (p: PassName): number => Math.round((T0 - p.time) / DAY);
  const cases: { name: string; policy: Retention; pruned: number[] }[] = [
    { name: 'no limit: nothing', policy: {}, pruned: [] },
    { name: '--keep-versions 2: all but the newest two', policy: { keepVersions: 2 }, pruned: [40, 20, 8, 6] },
    { name: '--keep-versions 10: nothing', policy: { keepVersions: 10 }, pruned: [] },
    { name: '--keep-days 7: older than 7 days', policy: { keepDays: 7 }, pruned: [40, 20, 8] },
    { name: 'both: kept when either keeps it (the newest 4, and a week)', policy: { keepDays: 7, keepVersions: 4 }, pruned: [40, 20] },
    { name: 'both: a month without passes still keeps the last 1', policy: { keepDays: 30, keepVersions: 1 }, pruned: [40] },
  ];
  for (const c of cases) it(c.name, () => expect(passesToPrune(passes, c.policy, T0).map(ago)).toEqual(c.pruned));
});

describe('--at', () => {
  const pass = (name: string): PassName => parsePassFolderName(name) as PassName;
  it('a pass folder name selects that pass and the ones before it, not a later one of the same second', () => {
    const at = parseAt('2026-11-28T05-30-00Z-2');
    expect(atOrBefore(pass('2026-11-28T05-30-00Z'), at)).toBe(true);
    expect(atOrBefore(pass('2026-11-28T05-30-00Z-2'), at)).toBe(true);
    expect(atOrBefore(pass('2026-11-28T05-30-00Z-3'), at)).toBe(false);
  });
  it('a date is the end of that local day; a local date-time is local; Z and offsets are honoured', () => {
    expect(parseAt('2026-11-24').time).toBe(new Date(2026, 10, 24, 23, 59, 59, 999).getTime());
    expect(parseAt('2026-11-24 18:05').time).toBe(new Date(2026, 10, 24, 18, 5).getTime());
    expect(parseAt('2026-11-24T18:05:07').time).toBe(new Date(2026, 10, 24, 18, 5, 7).getTime());
    expect(parseAt('2026-11-24T18:05:07Z').time).toBe(Date.UTC(2026, 10, 24, 18, 5, 7));
    expect(parseAt('2026-11-24T18:05:07+02:00').time).toBe(Date.UTC(2026, 10, 24, 16, 5, 7));
  });
  for (const bad of ['yesterday', '2026-13-01', '2026-02-30', '2026-11-24 25:00', '', '1700000000']) {
    it(`refuses ${JSON.stringify(bad)}`, () => expect(() => parseAt(bad)).toThrow(UsageError));
  }
});

describe('--versions, --keep-days, --keep-versions flags', () => {
  it('read into one option; a limit without --versions, 0 or a non-number is a usage error', () => {
    expect(parseVersionsArgs({})).toBeUndefined();
    expect(parseVersionsArgs({ versions: '/v' })).toEqual({ dir: '/v' });
    expect(parseVersionsArgs({ versions: '/v', 'keep-days': '30', 'keep-versions': '5' })).toEqual({ dir: '/v', keepDays: 30, keepVersions: 5 });
    expect(() => parseVersionsArgs({ 'keep-days': '30' })).toThrow(/--keep-days and --keep-versions need --versions <dir>/);
    expect(() => parseVersionsArgs({ versions: '/v', 'keep-versions': '0' })).toThrow(/--keep-versions needs a whole number of 1 or more, got 0/);
    expect(() => parseVersionsArgs({ versions: '/v', 'keep-days': '1.5' })).toThrow(UsageError);
    expect(() => parseVersionsArgs({ versions: '' })).toThrow(/--versions needs a folder/);
  });
});

describe('paths in the replica', () => {
  it('normalise ./, doubled and trailing slashes', () => {
    expect(normaliseReplicaPath('./docs//a.txt/')).toBe('docs/a.txt');
    expect(normaliseReplicaPath('docs\\a.txt', '\\')).toBe('docs/a.txt');
    expect(normaliseReplicaPath('.')).toBe('');
  });
  it('refuse .. and the bookkeeping folder', () => {
    expect(() => normaliseReplicaPath('docs/../../etc')).toThrow(UsageError);
    expect(() => normaliseReplicaPath(`${META_DIR}/store.json`)).toThrow(UsageError);
  });
});

/** A sandbox with src/ and rep/ (real paths), as checkPassPaths returns them. */
function sandbox(): { box: string; source: string; replica: string } {
  const box = realpathSync(tempDir('fs-vguard-'));
  buildTree(box, { src: { a: 'a' }, rep: { a: 'a' } });
  return { box, source: join(box, 'src'), replica: join(box, 'rep') };
}

describe('--versions refusals', () => {
  const unmounts: (() => void)[] = [];
  afterEach(() => {
    for (const u of unmounts.splice(0)) u();
  });

  const refused: { name: string; setup?: (box: string) => void; dir: (box: string) => string; want: RegExp }[] = [
    { name: 'the replica itself', dir: (b) => join(b, 'rep'), want: /is the replica itself/ },
    { name: 'inside the source', dir: (b) => join(b, 'src', 'v'), want: /is inside the source/ },
    { name: 'holding the source', dir: (b) => b, want: /source .* is inside the versions folder/ },
    { name: 'deeper inside the replica', dir: (b) => join(b, 'rep', 'sub', 'v'), want: /inside the replica below its top folder/ },
    {
      name: 'in the replica top folder under a name the source has',
      setup: (b) => mkdirSync(join(b, 'src', 'v')),
      dir: (b) => join(b, 'rep', 'v'),
      want: /the source has an entry named "v" at its top/,
    },
    { name: 'a file', setup: (b) => writeFileSync(join(b, 'v'), ''), dir: (b) => join(b, 'v'), want: /exists but is not a folder/ },
    {
      name: 'a non-empty folder not made by folder-sync',
      setup: (b) => buildTree(b, { v: { 'mine.txt': 'mine' } }),
      dir: (b) => join(b, 'v'),
      want: /is not empty and was not made by folder-sync/,
    },
    {
      name: 'the versions folder of another replica',
      setup: (b) => {
        mkdirSync(join(b, 'v', META_DIR), { recursive: true });
        writeFileSync(
          join(b, 'v', META_DIR, 'store.json'),
          JSON.stringify({ folderSync: 'versions', version: 1, replica: '/elsewhere', source: '/x' }),
        );
      },
      dir: (b) => join(b, 'v'),
      want: /keeps versions of another replica \(\/elsewhere\)/,
    },
    { name: 'an empty path', dir: () => ' ', want: /versions folder path is empty/ },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, () => {
      const s = sandbox();
      c.setup?.(s.box);
      const before = snapshotTree(s.box);
      expect(() => checkVersionsDir(c.dir(s.box), s)).toThrow(c.want);
      expect(() => checkVersionsDir(c.dir(s.box), s)).toThrow(RefusedError);
      expect(compareTrees(before, snapshotTree(s.box))).toEqual([]);
    });
  }

  it('refuses a versions folder that holds the replica', () => {
    const s = sandbox();
    const elsewhere = realpathSync(tempDir('fs-vsrc-'));
    expect(() => checkVersionsDir(s.box, { source: elsewhere, replica: s.replica })).toThrow(/the replica .* is inside the versions folder/);
  });

  it('refuses a versions folder on another file system (a tmpfs), existing or not', () => {
    const s = sandbox();
    const mnt = join(s.box, 'mnt');
    unmounts.push(mountTmpfs(mnt, 'size=1m'));
    expect(() => checkVersionsDir(mnt, s)).toThrow(/is on another file system than the replica/);
    expect(() => checkVersionsDir(join(mnt, 'not', 'yet'), s)).toThrow(/is on another file system than the replica/);
  });

  it('accepts a new folder beside the replica, an empty one, and its own versions folder again', () => {
    const s = sandbox();
    expect(checkVersionsDir(join(s.box, 'rep.versions'), s)).toEqual({ dir: join(s.box, 'rep.versions') });
    mkdirSync(join(s.box, 'empty'));
    expect(checkVersionsDir(join(s.box, 'empty'), s)).toEqual({ dir: join(s.box, 'empty') });
    const store = new VersionStore(join(s.box, 'rep.versions'), { ...s, startedAt: T0 });
    store.keep(s.replica, 'a', { path: 'a', kind: 'file', action: 'removed' });
    store.close();
    expect(checkVersionsDir(join(s.box, 'rep.versions'), s).dir).toBe(join(s.box, 'rep.versions'));
  });

  it('accepts a folder directly in the replica top folder that the source does not have, and names it', () => {
    const s = sandbox();
    expect(checkVersionsDir(join(s.replica, '.versions'), s)).toEqual({ dir: join(s.replica, '.versions'), inReplica: '.versions' });
  });
});

const kept = (path: string, kind: KeptLine['kind'] = 'file', action: KeptLine['action'] = 'removed'): KeptLine => ({ path, kind, action });

describe('VersionStore', () => {
  it('moves entries whole into <dir>/<pass>/<path>, with a marker that lists them', () => {
    const s = sandbox();
    buildTree(s.replica, { docs: { 'b.txt': file('b', { mode: 0o640, mtime: T0 - DAY }), sub: { c: 'c' } }, link: symlink('/etc/passwd') });
    const v = join(s.box, 'v');
    const store = new VersionStore(v, { ...s, startedAt: T0 });
    expect(store.passName).toBe('2026-11-28T05-30-00Z');
    expect(existsSync(v), 'nothing is made before the first keep').toBe(false);
    const inode = lstatSync(join(s.replica, 'docs', 'b.txt')).ino;
    expect(store.keep(join(s.replica, 'docs'), 'b.txt', kept('docs/b.txt'))).toBe('2026-11-28T05-30-00Z');
    store.keep(join(s.replica, 'docs'), 'sub', kept('docs/sub', 'dir'));
    store.keep(s.replica, 'link', kept('link', 'symlink'));
    store.close();
    const pass = join(v, '2026-11-28T05-30-00Z');
    expect(lstatSync(join(pass, 'docs', 'b.txt')).ino, 'moved, not copied').toBe(inode);
    expect(lstatSync(join(pass, 'docs', 'b.txt')).mode & 0o777).toBe(0o640);
    expect(readFileSync(join(pass, 'docs', 'sub', 'c'), 'utf8')).toBe('c');
    expect(readlinkSync(join(pass, 'link'))).toBe('/etc/passwd');
    expect(readdirSync(join(s.replica, 'docs'))).toEqual([]);
    const marker = readFileSync(join(v, META_DIR, '2026-11-28T05-30-00Z.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(marker[0]).toMatchObject({ folderSync: 'versions-pass', pass: '2026-11-28T05-30-00Z', replica: s.replica });
    expect(marker.slice(1)).toEqual([kept('docs/b.txt'), kept('docs/sub', 'dir'), kept('link', 'symlink')]);
    expect(JSON.parse(readFileSync(join(v, META_DIR, 'store.json'), 'utf8'))).toMatchObject({ replica: s.replica, source: s.source });
  });

  it('preserve: an updated file is hard-linked, so the replica name stays filled until the new version is renamed over it', () => {
    const s = sandbox();
    const store = new VersionStore(join(s.box, 'v'), { ...s, startedAt: T0 });
    store.keep(s.replica, 'a', kept('a', 'file', 'updated'), true);
    store.close();
    expect(lstatSync(join(s.replica, 'a')).ino).toBe(lstatSync(join(s.box, 'v', store.passName, 'a')).ino);
  });

  it('a second pass in the same second gets -2; a user folder with the pass name (no marker) is skipped and left alone', () => {
    const s = sandbox();
    const v = join(s.box, 'v');
    const first = new VersionStore(v, { ...s, startedAt: T0 });
    first.keep(s.replica, 'a', kept('a'));
    first.close();
    mkdirSync(join(v, '2026-11-28T05-30-00Z-2'));
    writeFileSync(join(v, '2026-11-28T05-30-00Z-2', 'mine'), 'mine');
    writeFileSync(join(s.replica, 'b'), 'b');
    const second = new VersionStore(v, { ...s, startedAt: T0 + 200 });
    expect(second.keep(s.replica, 'b', kept('b'))).toBe('2026-11-28T05-30-00Z-3');
    second.close();
    expect(readdirSync(join(v, '2026-11-28T05-30-00Z-2'))).toEqual(['mine']);
    expect(readCatalog(v).passes.map((p) => p.name)).toEqual(['2026-11-28T05-30-00Z', '2026-11-28T05-30-00Z-3']);
  });

  it('a dry run names the pass folder and touches nothing', () => {
    const s = sandbox();
    const before = snapshotTree(s.box);
    const store = new VersionStore(join(s.box, 'v'), { ...s, startedAt: T0, dryRun: true });
    expect(store.keep(s.replica, 'a', kept('a'))).toBe('2026-11-28T05-30-00Z');
    store.close();
    expect(compareTrees(before, snapshotTree(s.box))).toEqual([]);
    expect(existsSync(join(s.box, 'v'))).toBe(false);
  });
});

/** A versions folder with passes `daysAgo` old, each keeping one file `f` (content: its age) and one `only<age>`. */
function storeWithPasses(daysAgo: number[]): { s: ReturnType<typeof sandbox>; v: string } {
  const s = sandbox();
  const v = join(s.box, 'v');
  for (const age of daysAgo) {
    buildTree(s.replica, { f: file(`${age} days ago`, { mtime: T0 - age * DAY }), [`only${age}`]: `only ${age}` });
    const store = new VersionStore(v, { ...s, startedAt: T0 - age * DAY });
    store.keep(s.replica, 'f', kept('f', 'file', 'updated'));
    store.keep(s.replica, `only${age}`, kept(`only${age}`));
    store.close();
  }
  return { s, v };
}

describe('catalog and versions of a path', () => {
  it('lists the versions of a path oldest first; a folder made only to hold a deeper entry is not a version of it', () => {
    const s = sandbox();
    const v = join(s.box, 'v');
    buildTree(s.replica, { d: { x: 'x1', y: 'y1' } });
    const one = new VersionStore(v, { ...s, startedAt: T0 - DAY });
    one.keep(join(s.replica, 'd'), 'x', kept('d/x', 'file', 'updated'));
    one.close();
    writeFileSync(join(s.replica, 'd', 'x'), 'x2'); // what that pass installed
    const two = new VersionStore(v, { ...s, startedAt: T0 });
    two.keep(s.replica, 'd', kept('d', 'dir', 'removed'));
    two.close();
    const catalog = readCatalog(v);
    expect(versionsOf(catalog, 'd').map((x) => [x.pass.name, x.kind, x.action])).toEqual([['2026-11-28T05-30-00Z', 'dir', 'removed']]);
    expect(versionsOf(catalog, 'd/y').map((x) => x.action)).toEqual(['removed with "d"']);
    expect(versionsOf(catalog, 'd/x').map((x) => x.pass.name)).toEqual(['2026-11-27T05-30-00Z', '2026-11-28T05-30-00Z']);
    expect(keptBelow(catalog, 'd')).toEqual(['d/x']);
  });

  it('never follows a kept symlink to reach a path below it', () => {
    const s = sandbox();
    const v = join(s.box, 'v');
    mkdirSync(join(s.box, 'outside'));
    writeFileSync(join(s.box, 'outside', 'secret'), 'secret');
    symlinkSync(join(s.box, 'outside'), join(s.replica, 'l'));
    const store = new VersionStore(v, { ...s, startedAt: T0 });
    store.keep(s.replica, 'l', kept('l', 'symlink'));
    store.close();
    const catalog = readCatalog(v);
    expect(versionsOf(catalog, 'l/secret')).toEqual([]);
    expect(versionsOf(catalog, 'l').map((x) => x.target)).toEqual([join(s.box, 'outside')]);
  });

  it('refuses a folder that is not a versions folder', () => {
    const s = sandbox();
    expect(() => readCatalog(s.source)).toThrow(/is not a folder-sync versions folder/);
  });
});

describe('pruning', () => {
  it('by count: the oldest pass folders and their markers go, each measured', () => {
    const { v } = storeWithPasses([3, 2, 1, 0]);
    const pruned = pruneVersions(v, { keepVersions: 2 }, T0);
    expect(pruned.map((p) => [p.pass, p.entries, p.bytes])).toEqual([
      ['2026-11-25T05-30-00Z', 2, 'only 3'.length + '3 days ago'.length],
      ['2026-11-26T05-30-00Z', 2, 'only 2'.length + '2 days ago'.length],
    ]);
    expect(readdirSync(v).sort()).toEqual([META_DIR, '2026-11-27T05-30-00Z', '2026-11-28T05-30-00Z']);
    expect(readdirSync(join(v, META_DIR)).sort()).toEqual(['2026-11-27T05-30-00Z.jsonl', '2026-11-28T05-30-00Z.jsonl', 'store.json']);
    expect(prunedLine(pruned[0] as never)).toBe('pruned versions 2026-11-25T05-30-00Z (2 entries, 16 B)');
  });

  it('by days (pass folders from 40 and 10 days ago); a user folder of the same name pattern, without marker, is never touched', () => {
    const { v } = storeWithPasses([40, 10, 1]);
    buildTree(v, { '2020-01-01T00-00-00Z': { 'mine.txt': 'mine' } });
    expect(pruneVersions(v, { keepDays: 7 }, T0).map((p) => p.pass)).toEqual(['2026-10-19T05-30-00Z', '2026-11-18T05-30-00Z']);
    expect(readdirSync(v).sort()).toEqual([META_DIR, '2020-01-01T00-00-00Z', '2026-11-27T05-30-00Z']);
  });

  it('removes read-only kept folders too, and nothing without a limit or in a dry run', () => {
    const { s, v } = storeWithPasses([5]);
    buildTree(s.replica, { ro: dir({ inner: dir({ f: 'f' }, { mode: 0o500 }) }, { mode: 0o555 }) });
    const store = new VersionStore(v, { ...s, startedAt: T0 - 4 * DAY });
    store.keep(s.replica, 'ro', kept('ro', 'dir'));
    store.close();
    const before = snapshotTree(v);
    expect(pruneVersions(v, {}, T0)).toEqual([]);
    expect(pruneVersions(v, { keepDays: 1 }, T0, true).map((p) => p.pass)).toHaveLength(2);
    expect(compareTrees(before, snapshotTree(v))).toEqual([]);
    expect(pruneVersions(v, { keepDays: 1 }, T0).map((p) => [p.pass, p.error])).toEqual([
      ['2026-11-23T05-30-00Z', undefined],
      ['2026-11-24T05-30-00Z', undefined],
    ]);
    expect(readdirSync(v)).toEqual([META_DIR]);
  });
});

describe('restore (core)', () => {
  it('takes the newest version at or before --at', () => {
    const { v } = storeWithPasses([3, 2, 1]);
    const catalog = readCatalog(v);
    expect(pickVersion(catalog, 'f').pass.name).toBe('2026-11-27T05-30-00Z');
    expect(pickVersion(catalog, 'f', parseAt('2026-11-26T05-30-00Z')).pass.name).toBe('2026-11-26T05-30-00Z');
    expect(pickVersion(catalog, 'f', parseAt('2026-11-26T05:29:59Z')).pass.name).toBe('2026-11-25T05-30-00Z');
    expect(() => pickVersion(catalog, 'f', parseAt('2026-11-24'))).toThrow(
      /no kept version of "f" at or before --at \(the oldest is from 2026-11-25T05-30-00Z\)/,
    );
    expect(() => pickVersion(catalog, 'nothing')).toThrow(/no kept version of "nothing"/);
  });

  it('"." is everything one pass kept, at its paths (what a ransomware-like burst overwrote)', () => {
    const { v, s } = storeWithPasses([2, 1]);
    const out = join(s.box, 'all');
    const r = restoreVersion({ dir: v, path: '.', target: out, at: parseAt('2026-11-26T05-30-00Z') });
    expect(r.version.pass.name).toBe('2026-11-26T05-30-00Z');
    expect(readdirSync(out).sort()).toEqual(['f', 'only2']);
    expect(readFileSync(join(out, 'f'), 'utf8')).toBe('2 days ago');
    expect(lstatSync(join(out, 'f')).mtimeMs).toBe(T0 - 2 * DAY);
  });

  it('a folder comes back as the whole kept tree, exact; the versions folder is unchanged', () => {
    const s = sandbox();
    const v = join(s.box, 'v');
    const spec = {
      album: dir(
        {
          'a.jpg': file(Buffer.from([0, 1, 2, 255]), { mode: 0o600, mtime: T0 - 5 * DAY + 123 }),
          empty: dir({}, { mode: 0o750, mtime: T0 - 9 * DAY }),
          ro: dir({ 'b.txt': file('b', { mode: 0o444, mtime: T0 - 7 * DAY }) }, { mode: 0o555, mtime: T0 - 8 * DAY }),
          link: symlink('a.jpg'),
        },
        { mode: 0o711, mtime: T0 - 3 * DAY },
      ),
    };
    buildTree(s.replica, spec);
    const expected = buildTree(tempDir('fs-vexp-'), spec);
    const store = new VersionStore(v, { ...s, startedAt: T0 });
    store.keep(s.replica, 'album', kept('album', 'dir'));
    store.close();
    const before = snapshotTree(v);
    const out = join(s.box, 'restored', 'album');
    const r = restoreVersion({ dir: v, path: 'album', target: out });
    expect(r.failures).toEqual([]);
    expect(r.entries).toBe(6);
    expect(compareTrees(join(expected, 'album'), out)).toEqual([]);
    expect(compareTrees(before, snapshotTree(v))).toEqual([]);
  });
});
