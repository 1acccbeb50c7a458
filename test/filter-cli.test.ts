/**
 * End-to-end, the built CLI: each exclude flag on a real pass, what exclusion does to the replica with and
 * without --delete-excluded, --max-delete with excluded extras, the empty-source guard, nested ignore files with
 * negation, what --dry-run --verbose shows, and the bad input that is refused (exit 2, one line, nothing changed).
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ops, runSync, userTempDir } from './_cli.js';
import { buildTree, compareTrees, dir, file, giveToTestUser, snapshotTree, tempDir, type Spec } from './_tree.js';

const T = new Date('2024-05-01T10:00:00Z');
const OLD = new Date('2020-01-01T00:00:00Z');

/** A sandbox with `src` built from a spec and, when given, `rep` too. */
function box(src: Spec, rep?: Spec): { base: string; src: string; rep: string } {
  const base = tempDir('fs-filter-e2e-');
  mkdirSync(join(base, 'src'));
  buildTree(join(base, 'src'), src);
  if (rep) {
    mkdirSync(join(base, 'rep'));
    buildTree(join(base, 'rep'), rep);
  }
  return { base, src: join(base, 'src'), rep: join(base, 'rep') };
}

/** The operation lines, without the root folder's own metadata (the test trees are built at different moments). */
const changes = (stdout: string): string[] => ops(stdout).filter((l) => !l.startsWith('updated dir "."'));

/** Every path of a tree, folders with a trailing slash, root left out. */
function paths(root: string): string[] {
  return [...snapshotTree(root).entries()]
    .filter(([p]) => p !== '.')
    .map(([p, s]) => (s.type === 'dir' ? `${p}/` : p))
    .sort();
}

const under =
  (...prefixes: string[]) =>
  (p: string) =>
    prefixes.some((x) => p === x || p.startsWith(`${x}/`));

const project: Spec = {
  'a.tmp': file('scratch', { mtime: T }),
  'keep.tmp': file('kept', { mtime: T }),
  '.DS_Store': file('finder', { mtime: T }),
  'README.md': file('# readme', { mtime: T }),
  node_modules: dir({ pkg: dir({ 'index.js': file('module.exports = 1', { mtime: T }) }, { mtime: T }) }, { mtime: T }),
  src: dir(
    { 'main.ts': file('main', { mtime: T }), 'b.tmp': file('b', { mtime: T }), build: dir({ 'x.js': file('x', { mtime: T }) }, { mtime: T }) },
    { mtime: T },
  ),
  build: dir({ 'out.js': file('out', { mtime: T }) }, { mtime: T }),
};

describe('each flag on a real pass', () => {
  it('--exclude: wildcards, folder-only, anchored, later re-include; the start line counts the rules', async () => {
    const b = box(project);
    const r = await runSync(b.src, b.rep, [
      '--exclude',
      'node_modules/',
      '--exclude',
      '*.tmp',
      '--exclude',
      '!keep.tmp',
      '--exclude',
      '.DS_Store',
      '--exclude',
      '/build/',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(paths(b.rep)).toEqual(['README.md', 'keep.tmp', 'src/', 'src/build/', 'src/build/x.js', 'src/main.ts']);
    expect(compareTrees(b.src, b.rep, { ignore: under('a.tmp', '.DS_Store', 'node_modules', 'src/b.tmp', 'build') })).toEqual([]);
    expect(r.stdout).toMatch(/pass started: .* mode quick, filter: 5 exclude rules$/m);
  });

  it('an excluded folder is never walked: an unreadable folder inside it fails nothing', async () => {
    const base = userTempDir('fs-filter-walk-');
    const src = join(base, 'src');
    mkdirSync(src);
    buildTree(src, { keep: file('k'), cache: dir({ locked: dir({ x: file('x') }, { mode: 0o000 }) }) });
    giveToTestUser(base);
    const rep = join(base, 'rep');
    const without = await runSync(src, join(base, 'probe'), [], { asUser: true });
    expect(without.code).toBe(1); // walked: the locked folder fails
    const r = await runSync(src, rep, ['--exclude', 'cache/'], { asUser: true });
    expect(r.code, r.stderr).toBe(0);
    expect(paths(rep)).toEqual(['keep']);
    chmodSync(join(src, 'cache', 'locked'), 0o755);
  });

  it('--exclude-from: a file of patterns with comments, relative to the working folder, in order with --exclude', async () => {
    const b = box(project);
    writeFileSync(join(b.base, 'rules'), '# project junk\nnode_modules/\n\n*.tmp\n!keep.tmp\n');
    const r = await runSync(b.src, b.rep, ['--exclude-from', 'rules', '--exclude', 'keep.tmp', '--exclude', 'build/'], { cwd: b.base });
    expect(r.code, r.stderr).toBe(0);
    expect(paths(b.rep)).toEqual(['.DS_Store', 'README.md', 'src/', 'src/main.ts']);
    expect(r.stdout).toMatch(/filter: 5 exclude rules$/m);
  });

  it('--ignore-file: nested files with negation, each relative to its folder; the ignore files are mirrored', async () => {
    const b = box({
      '.syncignore': file('*.log\n/tmp/\n'),
      'app.log': file('a'),
      tmp: dir({ x: file('x') }),
      sub: dir({
        '.syncignore': file('!important.log\ntmp/\n'),
        'important.log': file('i'),
        'other.log': file('o'),
        tmp: dir({ y: file('y') }),
        deep: dir({ '.syncignore': file('*\n!*.txt\n!.syncignore\n'), 'a.txt': file('a'), 'b.bin': file('b'), 'important.log': file('d') }),
      }),
    });
    const r = await runSync(b.src, b.rep, ['--ignore-file', '.syncignore']);
    expect(r.code, r.stderr).toBe(0);
    expect(paths(b.rep)).toEqual([
      '.syncignore',
      'sub/',
      'sub/.syncignore',
      'sub/deep/',
      'sub/deep/.syncignore',
      'sub/deep/a.txt',
      'sub/important.log',
    ]);
    expect(r.stdout).toMatch(/filter: 0 exclude rules, ignore files \.syncignore$/m);
  });

  it('--exclude beats an ignore file: --ignore-file .gitignore --exclude "!.env" keeps what git ignores', async () => {
    const b = box({ '.gitignore': file('.env\ndist/\n'), '.env': file('SECRET=1'), dist: dir({ 'a.js': file('a') }), 'x.ts': file('x') });
    const r = await runSync(b.src, b.rep, ['--ignore-file', '.gitignore', '--exclude', '!.env']);
    expect(r.code, r.stderr).toBe(0);
    expect(paths(b.rep)).toEqual(['.env', '.gitignore', 'x.ts']);
  });

  it('--exclude-if-present: a folder holding the marker is left out whole; the source folder itself is not tested', async () => {
    const b = box({
      '.nobackup': file(''),
      photos: dir({ 'a.jpg': file('a') }),
      cache: dir({ 'CACHEDIR.TAG': file('Signature: 8a477f597d28d172789f06886806bc55'), blob: file('b') }),
      tmp: dir({ '.nobackup': dir({}), x: file('x') }),
    });
    const r = await runSync(b.src, b.rep, ['--exclude-if-present', '.nobackup', '--exclude-if-present', 'CACHEDIR.TAG']);
    expect(r.code, r.stderr).toBe(0);
    expect(paths(b.rep)).toEqual(['.nobackup', 'photos/', 'photos/a.jpg']);
    expect(r.stdout).toMatch(/exclude-if-present \.nobackup, CACHEDIR\.TAG$/m);
  });

  it('--ignore-case: patterns match either case; without it, exact case', async () => {
    const b = box({ 'IMG_1.JPG': file('1'), 'img_2.jpg': file('2'), 'IMG_1.AAE': file('s') });
    expect((await runSync(b.src, b.rep, ['--exclude', '*.aae', '--exclude', '*.jpg'])).code).toBe(0);
    expect(paths(b.rep)).toEqual(['IMG_1.AAE', 'IMG_1.JPG']);
    const other = join(b.base, 'rep2');
    expect((await runSync(b.src, other, ['--exclude', '*.aae', '--exclude', '*.jpg', '--ignore-case'])).code).toBe(0);
    expect(paths(other)).toEqual([]);
  });
});

describe('the replica side', () => {
  const src: Spec = { 'a.tmp': file('new scratch', { mtime: T }), 'b.txt': file('b', { mtime: T }), cache: dir({ c: file('c') }) };
  const rep: Spec = {
    'a.tmp': file('old', { mtime: OLD }),
    'b.txt': file('b', { mtime: T }),
    cache: dir({ old: file('o') }),
    'gone.txt': file('g'),
    'old.tmp': file('o'),
    oldcache: dir({ x: file('x'), y: file('y') }),
  };
  const flags = ['--exclude', '*.tmp', '--exclude', 'cache/', '--exclude', 'oldcache/'];

  it('entries that match an exclude are left alone: not updated, not removed', async () => {
    const b = box(src, rep);
    const before = snapshotTree(b.rep);
    const r = await runSync(b.src, b.rep, flags);
    expect(r.code, r.stderr).toBe(0);
    expect(changes(r.stdout)).toEqual(['removed file "gone.txt"']);
    const after = snapshotTree(b.rep);
    for (const p of ['a.tmp', 'cache', 'cache/old', 'old.tmp', 'oldcache', 'oldcache/x', 'oldcache/y'])
      expect(after.get(p), p).toEqual(before.get(p));
    expect(after.has('cache/c')).toBe(false);
  });

  it('--delete-excluded removes them like any other extra: logged and counted', async () => {
    const b = box(src, rep);
    const r = await runSync(b.src, b.rep, [...flags, '--delete-excluded']);
    expect(r.code, r.stderr).toBe(0);
    expect(changes(r.stdout).sort()).toEqual(
      [
        'removed file "a.tmp"',
        'removed file "cache/old"',
        'removed dir "cache"',
        'removed file "gone.txt"',
        'removed file "old.tmp"',
        'removed file "oldcache/x"',
        'removed file "oldcache/y"',
        'removed dir "oldcache"',
      ].sort(),
    );
    expect(r.stdout).toMatch(/removed 8,/);
    expect(paths(b.rep)).toEqual(['b.txt']);
  });

  it('--max-delete does not count excluded extras left alone, and counts them with --delete-excluded', async () => {
    const b = box(src, rep);
    const before = snapshotTree(b.rep);
    const refused = await runSync(b.src, b.rep, [...flags, '--delete-excluded', '--max-delete', '7']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/would remove 8 entries, more than --max-delete 7/);
    expect(compareTrees(before, snapshotTree(b.rep))).toEqual([]);
    const r = await runSync(b.src, b.rep, [...flags, '--max-delete', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(changes(r.stdout)).toEqual(['removed file "gone.txt"']);
  });

  it('inside a replica folder the pass removes, what matches an exclude stays, and so does the folder', async () => {
    const b = box(
      { 'b.txt': file('b', { mtime: T }) },
      { 'b.txt': file('b', { mtime: T }), olddir: dir({ 'x.tmp': file('x'), 'y.txt': file('y'), deep: dir({ 'z.tmp': file('z') }) }) },
    );
    const counted = await runSync(b.src, b.rep, ['--exclude', '*.tmp', '--max-delete', '0', '--dry-run']);
    expect(counted.code).toBe(2);
    expect(counted.stderr).toMatch(/would remove 1 entries, more than --max-delete 0/);
    const r = await runSync(b.src, b.rep, ['--exclude', '*.tmp', '--max-delete', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(changes(r.stdout)).toEqual(['removed file "olddir/y.txt"']);
    expect(paths(b.rep)).toEqual(['b.txt', 'olddir/', 'olddir/deep/', 'olddir/deep/z.tmp', 'olddir/x.tmp']);
    const all = await runSync(b.src, b.rep, ['--exclude', '*.tmp', '--delete-excluded', '--max-delete', '4']);
    expect(all.code, all.stderr).toBe(0);
    expect(paths(b.rep)).toEqual(['b.txt']);
  });

  it('the empty-source guard looks at what would be mirrored: everything excluded is empty', async () => {
    const b = box({ 'a.tmp': file('a'), junk: dir({ x: file('x') }) }, { 'photo.jpg': file('p') });
    const before = snapshotTree(b.rep);
    const r = await runSync(b.src, b.rep, ['--exclude', '*.tmp', '--exclude', 'junk/']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/source .* has nothing to mirror \(every entry is excluded\) but the replica .* is not empty/);
    expect(compareTrees(before, snapshotTree(b.rep))).toEqual([]);
    const allowed = await runSync(b.src, b.rep, ['--exclude', '*.tmp', '--exclude', 'junk/', '--allow-empty-source']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(paths(b.rep)).toEqual([]);
  });
});

describe('an ignore file that cannot be read', () => {
  it('in a subfolder: that folder fails (exit 1) and its replica copy is left as it is; at the root: refused', async () => {
    const base = userTempDir('fs-filter-unreadable-');
    buildTree(base, {
      src: dir({ 'a.txt': file('a'), sub: dir({ '.syncignore': file('*.log\n', { mode: 0o000 }), 'x.log': file('x'), 'y.txt': file('y') }) }),
      rep: dir({ sub: dir({ 'old.txt': file('o') }) }),
    });
    giveToTestUser(base);
    const src = join(base, 'src');
    const rep = join(base, 'rep');
    const r = await runSync(src, rep, ['--ignore-file', '.syncignore'], { asUser: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /failed dir "sub": ignore file ".*\/sub\/\.syncignore" cannot be read: permission denied \(EACCES\); the folder is left as it is/,
    );
    expect(paths(rep)).toEqual(['a.txt', 'sub/', 'sub/old.txt']);

    chmodSync(join(src, 'sub', '.syncignore'), 0o644);
    writeFileSync(join(src, '.syncignore'), 'x\n');
    chmodSync(join(src, '.syncignore'), 0o000);
    giveToTestUser(join(src, '.syncignore'));
    const before = snapshotTree(rep);
    const root = await runSync(src, rep, ['--ignore-file', '.syncignore'], { asUser: true });
    expect(root.code).toBe(2);
    expect(root.stderr).toMatch(/ignore file ".*\/src\/\.syncignore" cannot be read: permission denied \(EACCES\) in the source folder/);
    expect(compareTrees(before, snapshotTree(rep))).toEqual([]);
  });
});

describe('--dry-run --verbose shows what is excluded', () => {
  it('one debug line per excluded entry (a folder once, not its contents), and one per replica entry left alone', async () => {
    const b = box(project, { 'old.tmp': file('o'), 'README.md': file('x') });
    const before = snapshotTree(b.rep);
    const r = await runSync(b.src, b.rep, ['--exclude', 'node_modules/', '--exclude', '*.tmp', '--dry-run', '--verbose']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => /excluded/.test(l));
    expect(lines.sort()).toEqual(
      ['excluded "a.tmp"', 'excluded "keep.tmp"', 'excluded "node_modules"', 'excluded "src/b.tmp"', 'left alone (excluded) "old.tmp"'].sort(),
    );
    expect(compareTrees(before, snapshotTree(b.rep))).toEqual([]);
    // Without --verbose there are no such lines.
    const quiet = await runSync(b.src, b.rep, ['--exclude', 'node_modules/', '--dry-run']);
    expect(quiet.stdout).not.toMatch(/excluded "/);
  });
});

describe('bad input: exit 2, one line, nothing changed', () => {
  const cases: { name: string; flags: (base: string) => string[]; want: RegExp; asUser?: boolean; setup?: (base: string) => void }[] = [
    { name: 'an empty --exclude', flags: () => ['--exclude', ''], want: /--exclude pattern is empty/ },
    { name: 'a blank --exclude', flags: () => ['--exclude', '  '], want: /--exclude pattern is empty/ },
    { name: 'a --exclude that is a comment', flags: () => ['--exclude', '#x'], want: /is a comment in \.gitignore syntax/ },
    {
      name: 'an absolute path outside the source',
      flags: (base) => ['--exclude', join(base, 'elsewhere')],
      want: /can never match: it is an absolute path outside the source .*, and patterns only match paths inside the source/,
    },
    {
      name: 'an absolute path inside the source',
      flags: (base) => ['--exclude', join(base, 'src', 'build/')],
      want: /can never match: it is an absolute path inside the source .*: write "\/build\/"/,
    },
    {
      name: 'a missing --exclude-from',
      flags: (base) => ['--exclude-from', join(base, 'nope')],
      want: /--exclude-from file cannot be read: .*nope: no such file/,
    },
    {
      name: 'an unreadable --exclude-from',
      asUser: true,
      setup: (base) => {
        writeFileSync(join(base, 'rules'), '*.tmp\n');
        chmodSync(join(base, 'rules'), 0o000);
      },
      flags: (base) => ['--exclude-from', join(base, 'rules')],
      want: /--exclude-from file cannot be read: .*rules: permission denied \(EACCES\)/,
    },
    { name: 'an --ignore-file with a folder part', flags: () => ['--ignore-file', 'a/.gitignore'], want: /--ignore-file needs a file name/ },
    { name: '--exclude without its value', flags: () => ['--exclude'], want: /option --exclude needs a value/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const base = c.asUser ? userTempDir('fs-filter-bad-') : tempDir('fs-filter-bad-');
      buildTree(base, { src: dir({ 'a.txt': file('a'), build: dir({ x: file('x') }) }), rep: dir({ 'old.txt': file('o') }) });
      c.setup?.(base);
      if (c.asUser) giveToTestUser(base);
      const before = snapshotTree(base);
      const r = await runSync(join(base, 'src'), join(base, 'rep'), ['--log', join(base, 'log', 'x.log'), ...c.flags(base)], { asUser: c.asUser });
      expect(r.code).toBe(2);
      const lines = r.stderr.split('\n').filter((l) => l && !l.startsWith('Run "folder-sync'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(c.want);
      expect(lines[0]).not.toMatch(/\n\s+at /);
      expect(compareTrees(before, snapshotTree(base), { ignore: under('log'), ignoreRoot: true })).toEqual([]);
    });
  }
});
