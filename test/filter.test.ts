/**
 * The filter module around the matching (which test/filter-git.test.ts checks against git): what is refused,
 * how `--exclude-from` files and `--exclude` patterns combine, and what `filterListings` hands the planner.
 */
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { lstatEntry as entryOf, type Entry } from '../src/sync/entry.js';
import { checkFilterSpec, type FilterSpec } from '../src/sync/filter.js';
import { PassFilter } from '../src/sync/pass-filter.js';
import { quickRules, type ScannedRules } from '../src/sync/rule-quick.js';
import { createRequire } from 'node:module';
import { filterListings, readIgnoreFiles } from '../src/sync/walk-filter.js';
import { tempName } from '../src/sync/temp.js';
import { tempDir } from './_tree.js';

function source(): string {
  const root = tempDir('fs-filter-src-');
  mkdirSync(join(root, 'home'));
  return root;
}

function refusal(spec: FilterSpec, src = source()): string {
  try {
    PassFilter.load(spec, src);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('not refused');
}

describe('refused patterns and files (UsageError, exit 2)', () => {
  it('an empty or blank --exclude, and a lone "!"', () => {
    for (const p of ['', '   ', '!', '! ']) expect(refusal({ rules: [{ exclude: p }] })).toMatch(/--exclude pattern is empty/);
  });

  it('a --exclude that .gitignore would read as a comment, naming the escaped form', () => {
    expect(refusal({ rules: [{ exclude: '#notes' }] })).toBe(
      '--exclude pattern "#notes" is a comment in .gitignore syntax and matches nothing; write "\\\\#notes" for a name starting with #',
    );
  });

  it('an absolute path outside the source, and one inside it (with the relative form to write)', () => {
    const src = source();
    const sibling = join(dirname(src), 'elsewhere', 'x');
    expect(refusal({ rules: [{ exclude: sibling }] }, src)).toMatch(
      new RegExp(`can never match: it is an absolute path outside the source ${src}, and patterns only match paths inside the source`),
    );
    expect(refusal({ rules: [{ exclude: `!${sibling}/` }] }, src)).toMatch(/can never match: it is an absolute path outside/);
    expect(refusal({ rules: [{ exclude: `${src}/build/` }] }, src)).toMatch(/absolute path inside the source .*: write "\/build\/"/);
    expect(refusal({ rules: [{ exclude: src }] }, src)).toMatch(/it is the source folder itself/);
  });

  it('an existing absolute path of two or more names outside the source; "/" alone', () => {
    expect(refusal({ rules: [{ exclude: '/etc/hosts' }] })).toMatch(
      /"\/etc\/hosts" can never match: \/etc\/hosts is an existing path outside the source/,
    );
    expect(refusal({ rules: [{ exclude: '/' }] })).toMatch(/can never match: it names no entry/);
  });

  it('one-name anchored patterns, wildcards and paths that do not exist stay patterns', () => {
    const src = source();
    const ok = ['/tmp/', '/bin/', '/etc/*.conf', '/no/such/thing', 'etc/hosts'];
    expect(PassFilter.load({ rules: ok.map((exclude) => ({ exclude })) }, src).ruleCount).toBe(ok.length);
  });

  it('an anchored pattern whose first name the source really has is a pattern, not an absolute path', () => {
    const src = source(); // holds home/
    expect(PassFilter.load({ rules: [{ exclude: '/home/' }, { exclude: '/build/' }, { exclude: 'tmp/' }] }, src).ruleCount).toBe(3);
  });

  it('an absolute line in an --exclude-from file names the file and line', () => {
    const src = source();
    const list = join(tempDir('fs-filter-list-'), 'rules');
    writeFileSync(list, `# mine\n*.tmp\n\n${join(dirname(src), 'other')}/\n`);
    expect(refusal({ rules: [{ excludeFrom: list }] }, src)).toMatch(new RegExp(`^--exclude-from ${list} line 4 ".*" can never match`));
  });

  it('a missing or unreadable --exclude-from file', () => {
    const dir = tempDir('fs-filter-list-');
    expect(refusal({ rules: [{ excludeFrom: join(dir, 'missing') }] })).toBe(
      `--exclude-from file cannot be read: ${join(dir, 'missing')}: no such file or directory (ENOENT)`,
    );
    expect(refusal({ rules: [{ excludeFrom: dir }] })).toMatch(/--exclude-from file cannot be read: .*is a directory \(EISDIR\)/);
  });

  it('--ignore-file and --exclude-if-present take a plain name', () => {
    for (const bad of ['', '.', '..', 'a/.gitignore']) {
      expect(refusal({ ignoreFiles: [bad] })).toMatch(/^--ignore-file needs a file name/);
      expect(refusal({ excludeIfPresent: [bad] })).toMatch(/^--exclude-if-present needs a file name/);
    }
  });

  it('checkFilterSpec stores --exclude-from files by absolute path', () => {
    const dir = tempDir('fs-filter-list-');
    writeFileSync(join(dir, 'rules'), '*.tmp\n');
    const spec = checkFilterSpec({ rules: [{ exclude: 'a' }, { excludeFrom: join(dir, '.', 'rules') }] }, source());
    expect(spec.rules).toEqual([{ exclude: 'a' }, { excludeFrom: join(dir, 'rules') }]);
  });
});

describe('rule lists', () => {
  it('--exclude-from lines and --exclude patterns form one list in the order given (later wins)', () => {
    const src = source();
    const list = join(tempDir('fs-filter-list-'), 'rules');
    writeFileSync(list, '# comment\n\n*.tmp\n!keep.tmp\n');
    const before = PassFilter.load({ rules: [{ exclude: 'keep.tmp' }, { excludeFrom: list }] }, src).root();
    const after = PassFilter.load({ rules: [{ excludeFrom: list }, { exclude: 'keep.tmp' }] }, src).root();
    expect([before.excluded('keep.tmp', false), before.excluded('a.tmp', false)]).toEqual([false, true]);
    expect([after.excluded('keep.tmp', false), after.excluded('a.tmp', false)]).toEqual([true, true]);
  });

  it('counts the rules in force and describes them for the start line', () => {
    const src = source();
    const list = join(tempDir('fs-filter-list-'), 'rules');
    writeFileSync(list, '# comment\n\n*.tmp\n!keep.tmp\n');
    const filter = PassFilter.load(
      {
        rules: [{ excludeFrom: list }, { exclude: 'node_modules/' }],
        ignoreFiles: ['.gitignore'],
        excludeIfPresent: ['.nobackup', 'CACHEDIR.TAG'],
        ignoreCase: true,
      },
      src,
    );
    expect(filter.ruleCount).toBe(3);
    expect(filter.describe()).toBe('3 exclude rules, ignore files .gitignore, exclude-if-present .nobackup, CACHEDIR.TAG, ignoring case');
    expect(PassFilter.load({}, src).describe()).toBeUndefined();
    expect(PassFilter.load({}, src).inactive).toBe(true);
  });

  it('a --exclude keeps its trailing spaces (a .gitignore line would lose them)', () => {
    const dir = PassFilter.load({ rules: [{ exclude: 'name  ' }] }, source()).root();
    expect([dir.excluded('name  ', false), dir.excluded('name', false)]).toEqual([true, false]);
  });

  it('case: exact by default, either case with ignoreCase', () => {
    const src = source();
    expect(
      PassFilter.load({ rules: [{ exclude: '*.jpg' }] }, src)
        .root()
        .excluded('A.JPG', false),
    ).toBe(false);
    expect(
      PassFilter.load({ rules: [{ exclude: '*.jpg' }], ignoreCase: true }, src)
        .root()
        .excluded('A.JPG', false),
    ).toBe(true);
  });
});

const e = (name: string, type: Entry['type'] = 'file'): Entry => ({ name, type, mode: 0o644, size: 0, mtimeMs: 0, atimeMs: 0 });
const names = (entries: readonly Entry[]): string[] => entries.map((x) => x.name);

describe('filterListings: what the planner sees', () => {
  const filter = PassFilter.load({ rules: [{ exclude: '*.tmp' }, { exclude: 'cache/' }], excludeIfPresent: ['.nobackup'] }, source());
  const src = [e('a.tmp'), e('b.txt'), e('cache', 'dir'), e('marked', 'dir'), e('photos', 'dir')];
  const dst = [e('a.tmp'), e('b.txt'), e('cache', 'dir'), e('gone.txt'), e('marked', 'dir'), e('old.tmp'), e('oldcache', 'dir'), e(tempName())];
  const markedIn = (set: string[]) => (name: string) => set.includes(name);

  it('drops excluded source entries and leaves matching replica entries alone', () => {
    const out = filterListings(filter.root(), src, dst, {
      deleteExcluded: false,
      srcMarked: markedIn(['marked']),
      dstMarked: markedIn(['oldcache']),
    });
    expect(names(out.src)).toEqual(['b.txt', 'photos']);
    expect(names(out.excluded)).toEqual(['a.tmp', 'cache', 'marked']);
    // Replica-only: old.tmp matches a pattern, oldcache holds a marker on the replica side.
    expect(names(out.protected)).toEqual(['a.tmp', 'cache', 'marked', 'old.tmp', 'oldcache']);
    expect(names(out.dst)).toEqual(['b.txt', 'gone.txt', dst[7]?.name]);
  });

  it('with deleteExcluded every replica entry is planned (extras are then removed)', () => {
    const out = filterListings(filter.root(), src, dst, { deleteExcluded: true, srcMarked: markedIn(['marked']), dstMarked: markedIn(['oldcache']) });
    expect(names(out.src)).toEqual(['b.txt', 'photos']);
    expect(names(out.dst)).toEqual(names(dst));
    expect(out.protected).toEqual([]);
  });

  it('a kept source entry pairs with its replica entry even when the replica one alone would match', () => {
    const dirOnly = PassFilter.load({ rules: [{ exclude: 'x/' }] }, source()).root();
    const out = filterListings(dirOnly, [e('x')], [e('x', 'dir')], { deleteExcluded: false, srcMarked: () => false, dstMarked: () => false });
    expect([names(out.src), names(out.dst), out.protected]).toEqual([['x'], ['x'], []]);
  });

  it('a folder where nothing is left out hands both listings on as they are (no copy of every entry)', () => {
    const kept = [e('b.txt'), e('photos', 'dir')];
    const both = [e('b.txt'), e('extra.txt'), e('photos', 'dir')];
    const out = filterListings(filter.root(), kept, both, { deleteExcluded: false, srcMarked: () => false, dstMarked: () => false });
    expect(out.src).toBe(kept);
    expect(out.dst).toBe(both);
    expect([out.excluded, out.protected]).toEqual([[], []]);
  });

  it("this tool's temporaries are never protected, whatever the patterns", () => {
    const all = PassFilter.load({ rules: [{ exclude: '*' }] }, source()).root();
    const tmp = e(tempName());
    const out = filterListings(all, [], [tmp], { deleteExcluded: false, srcMarked: () => false, dstMarked: () => false });
    expect(names(out.dst)).toEqual([tmp.name]);
  });

  it('hasMarker sees an entry of the marker name, of any type', () => {
    const root = tempDir('fs-filter-mark-');
    mkdirSync(join(root, 'a'));
    mkdirSync(join(root, 'b'));
    mkdirSync(join(root, 'c', '.nobackup'), { recursive: true });
    writeFileSync(join(root, 'a', '.nobackup'), '');
    expect(['a', 'b', 'c'].map((d) => filter.hasMarker(join(root, d)))).toEqual([true, false, true]);
  });
});

describe('ignore files are read without following a link swapped in since the listing', () => {
  it('a .gitignore listed as a file but now a link to a file outside the source is not read (the folder fails)', () => {
    const src = tempDir('fs-ign-src-');
    const outside = tempDir('fs-ign-out-');
    writeFileSync(join(outside, 'secret'), 'root-only-pattern\n');
    writeFileSync(join(src, '.gitignore'), '*.tmp\n');
    const listed: Entry = { ...entryOf(join(src, '.gitignore'), '.gitignore') };
    // The swap, between the listing and the read.
    rmSync(join(src, '.gitignore'));
    symlinkSync(join(outside, 'secret'), join(src, '.gitignore'));
    const filter = PassFilter.load({ ignoreFiles: ['.gitignore'] }, src);
    expect(() => readIgnoreFiles(filter, src, [listed])).toThrow(/replaced while the pass ran/);
  });

  it('a .gitignore replaced by another file (another inode) is not read either; the listed one is', () => {
    const src = tempDir('fs-ign-src-');
    writeFileSync(join(src, '.gitignore'), '*.tmp\n');
    const listed = entryOf(join(src, '.gitignore'), '.gitignore');
    const filter = PassFilter.load({ ignoreFiles: ['.gitignore'] }, src);
    expect(readIgnoreFiles(filter, src, [listed])).toEqual(['*.tmp\n']);
    writeFileSync(join(src, 'other'), 'other-pattern\n');
    renameSync(join(src, 'other'), join(src, '.gitignore'));
    expect(() => readIgnoreFiles(filter, src, [listed])).toThrow(/replaced while the pass ran/);
  });
});

describe('the quick "no rule can match" (quickRules): only ever says so when the rule-by-rule scan agrees', () => {
  type Scan = ScannedRules & { test(path: string, mode: 'regex'): { ignored: boolean; unignored: boolean } };
  const ignore = createRequire(import.meta.url)('ignore') as (o: { ignoreCase: boolean }) => { add(p: string[]): { _rules: Scan } };
  const patterns = [
    ['node_modules/', '*.tmp', '.DS_Store', 'build/', '!keep.tmp', 'Thumbs.db', '*.log', 'dist/', '/out/', '**/tmp/**', '!important.log'],
    ['a/**/b', '[Cc]ache?/', 'x\\#y', '\\!bang', 'trail\\ ', '*.[oa]', '**/deep', 'only/at/root/', '!*.keep', 'f*o*o'],
    ['*', '!*/', '!*.txt'],
  ];
  const paths = [
    'a',
    'a/',
    'node_modules/',
    'x/node_modules/',
    'x/node_modules',
    'f.tmp',
    'keep.tmp',
    'd/keep.tmp',
    'out/',
    'd/out/',
    'tmp/x',
    'a/tmp/b/c',
    'a/b',
    'a/x/y/b',
    'Cache1/',
    'cachex/',
    'x#y',
    '!bang',
    'trail ',
    'lib.o',
    'q/deep',
    'deep/',
    'only/at/root/',
    'z/only/at/root/',
    'n.keep',
    'fxoyo',
    'foo',
    'note.txt',
    'dir/',
    'dir/file',
    'important.log',
    'x.log',
    '\u00e9t\u00e9.tmp',
    'CASE.TMP',
    'Thumbs.db',
    'thumbs.db',
  ];
  for (const ignoreCase of [false, true])
    patterns.forEach((set, n) => {
      it(`pattern set ${n + 1}${ignoreCase ? ', ignoring case' : ''}: made, and never "none" where a rule matches`, () => {
        const scan = ignore({ ignoreCase }).add(set)._rules;
        const quick = quickRules(scan);
        expect(quick).toBeDefined();
        let saidNone = 0;
        for (const path of paths) {
          const exact = scan.test(path, 'regex');
          if (quick!.noneFor(path)) {
            saidNone++;
            expect({ path, ...exact }, path).toEqual({ path, ignored: false, unignored: false });
          } else {
            expect(exact.ignored || exact.unignored, path).toBe(true); // it matched: some rule does
          }
        }
        if (n < 2) expect(saidNone).toBeGreaterThan(0); // set 3 begins with '*': every path matches a rule
      });
    });

  it('is not made where an alternation could change a rule: mixed flags, a stateful flag, a back-reference, a named group', () => {
    const scan = (...regex: RegExp[]): ScannedRules => ({ _rules: regex.map((r) => ({ regex: r })) });
    expect(quickRules(scan(/a/, /b/))).toBeDefined();
    expect(quickRules(scan(/a/, /b/i))).toBeUndefined();
    expect(quickRules(scan(/a/g, /b/g))).toBeUndefined();
    expect(quickRules(scan(/(a)\1/, /b/))).toBeUndefined();
    expect(quickRules(scan(/(?<x>a)/, /b/))).toBeUndefined();
    expect(quickRules({})).toBeUndefined();
  });

  it('a pass filter with it gives the same verdicts as the rules one by one', () => {
    const spec: FilterSpec = { rules: patterns[0]!.map((exclude) => ({ exclude })) };
    const dir = PassFilter.load(spec, tempDir()).root().child('x');
    expect(dir.excluded('node_modules', true)).toBe(true);
    expect(dir.excluded('keep.tmp', false)).toBe(false);
    expect(dir.excluded('f.tmp', false)).toBe(true);
    expect(dir.excluded('out', true)).toBe(false); // '/out/' is anchored at the top
    expect(dir.excluded('plain.dat', false)).toBe(false);
  });
});
