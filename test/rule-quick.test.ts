/**
 * The quick "no rule can match" of a rule list (src/sync/rule-quick.ts, issue 16): rules sorted by the shape of
 * their expression and each kind asked where it can match (the name alone, the list's own folder, once per
 * folder entered, the whole path). Its answers must be exactly "no rule's expression matches the whole path",
 * for every rule and path, and the walk's verdicts (DirFilter, with ignore files at several depths) those of the
 * rule-by-rule scan. Generated rules and paths, seeded: the same cases on every run.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Prng } from '../src/demo/prng.js';
import { PassFilter, type DirFilter } from '../src/sync/pass-filter.js';
import { quickRules, shapeOf, slashFree, type ScannedRules } from '../src/sync/rule-quick.js';
import { tempDir } from './_tree.js';

interface Rules extends ScannedRules {
  _rules: readonly { regex: RegExp; pattern: string }[];
  test(path: string, mode: 'regex'): { ignored: boolean; unignored: boolean };
}
const ignore = createRequire(import.meta.url)('ignore') as (o: { ignoreCase: boolean }) => { add(p: string[]): { _rules: Rules } };
const rulesOf = (lines: string[], ignoreCase = false): Rules => ignore({ ignoreCase }).add(lines)._rules;

describe('which kind a rule is', () => {
  const cases: [pattern: string, shape: string][] = [
    ['*.log', 'name'],
    ['node_modules/', 'name'],
    ['.DS_Store', 'name'],
    ['**/deep', 'name'],
    ['*', 'name'],
    ['**', 'name'],
    ['f[!/]x', 'top'], // `^f[^\//]x...`: ignore anchors a pattern with a slash anywhere
    ['[Cc]ache?/', 'name'],
    ['x\\#y', 'name'],
    ['/out/', 'top'],
    ['/*.c', 'top'],
    ['**/tmp/**', 'under'],
    ['tmp/**', 'underTop'],
    ['a/**/b', 'rest'],
    ['doc/*.txt', 'rest'],
    ['doc/frotz/', 'rest'],
    ['foo/**/', 'rest'],
  ];
  for (const [pattern, shape] of cases)
    it(`${pattern}: ${shape}`, () => {
      expect(shapeOf(rulesOf([pattern])._rules[0]!.regex.source).shape).toBe(shape);
    });

  it('a body that could match a "/" (or that the parse does not know) is never asked of the name alone', () => {
    for (const body of ['a', '[^\\/]*\\.log', '[^/]*', '[abc]x', '[a-z]q', '[^\\/a]y', 'a\\ ', '\\#', '[]', '[+--]'])
      expect(slashFree(body), body).toBe(true);
    for (const body of ['.', 'a\\/b', 'a/b', '(?:x)', '\\s', '[\\s]', '[\\w]', '[--0]', '[!-0]', '[^a]', '[^\\s]', 'a|b', '[', 'a{2}', '\\1'])
      expect(slashFree(body), body).toBe(false);
  });
});

/** A random .gitignore line over a few names, wildcards, classes, anchors and negations. */
function pattern(rng: Prng): string {
  const pieces = ['tmp', 'a', 'b', 'out', 'x.log', 'node_modules', '*', '*.log', 'a*', '?', '[ab]', '[!a]x', '**', 'a?b', '[a-c]*', 'x\\*'];
  const segments = Array.from({ length: rng.int(1, 3) }, () => pieces[rng.int(0, pieces.length - 1)]!);
  let p = segments.join('/');
  const lead = rng.int(0, 5);
  if (lead === 0) p = `/${p}`;
  else if (lead === 1) p = `**/${p}`;
  const tail = rng.int(0, 5);
  if (tail === 0) p += '/';
  else if (tail === 1) p += '/**';
  return rng.int(0, 4) === 0 ? `!${p}` : p;
}

/** A random relative path, a folder's with a trailing "/". */
function path(rng: Prng): string {
  const names = ['a', 'b', 'tmp', 'out', 'x.log', 'ab', 'node_modules', 'c.tmp', 'zz', 'A', 'aXb', 'x*'];
  const p = Array.from({ length: rng.int(1, 4) }, () => names[rng.int(0, names.length - 1)]!).join('/');
  return rng.int(0, 2) === 0 ? `${p}/` : p;
}

describe('its answers are exactly "no rule matches the whole path"', () => {
  for (const ignoreCase of [false, true])
    it(`300 generated rule lists, 200 paths each${ignoreCase ? ', ignoring case' : ''}`, () => {
      const rng = new Prng(ignoreCase ? 16_2 : 16_1);
      let none = 0;
      let some = 0;
      for (let n = 0; n < 300; n++) {
        const rules = rulesOf(
          Array.from({ length: rng.int(1, 6) }, () => pattern(rng)),
          ignoreCase,
        );
        const quick = quickRules(rules)!;
        expect(quick).toBeDefined();
        for (let k = 0; k < 200; k++) {
          const p = path(rng);
          const matches = rules._rules.some((r) => r.regex.test(p));
          expect(quick.noneFor(p), `${rules._rules.map((r) => r.pattern).join(' ')} on ${p}`).toBe(!matches);
          if (matches) some++;
          else none++;
        }
      }
      // Both answers were really asked for, many times.
      expect(none).toBeGreaterThan(5000);
      expect(some).toBeGreaterThan(5000);
    });
});

describe("the walk's verdicts with the quick check are the rule-by-rule scan's", () => {
  it('command-line rules and ignore files at three depths, over generated trees', () => {
    const rng = new Prng(1629);
    const src = tempDir('fs-rule-quick-');
    // Every first name a pattern can have, so that an anchored one is taken as a pattern, not a path (filter.ts).
    for (const name of ['tmp', 'a', 'b', 'out', 'x.log', 'node_modules', 'x*']) mkdirSync(join(src, name));
    for (let n = 0; n < 60; n++) {
      const cmdline = Array.from({ length: rng.int(0, 4) }, () => pattern(rng));
      const files = new Map<string, string[]>(['', 'a/', 'a/tmp/'].map((base) => [base, Array.from({ length: rng.int(0, 3) }, () => pattern(rng))]));
      const filter = PassFilter.load({ rules: cmdline.map((exclude) => ({ exclude })), ignoreFiles: ['.gitignore'] }, src);
      const textOf = (base: string): string[] => [(files.get(base) ?? []).join('\n')];
      // git's order: the command line first, then the ignore files deepest first; the first list with a verdict decides.
      const expected = (dirRel: string, name: string, isDir: boolean): boolean => {
        const full = isDir ? `${dirRel}${name}/` : dirRel + name;
        const lists: [base: string, lines: string[]][] = [['', cmdline]];
        for (const base of ['a/tmp/', 'a/', '']) if (dirRel.startsWith(base)) lists.push([base, files.get(base)!]);
        for (const [base, lines] of lists) {
          if (lines.length === 0) continue;
          const r = rulesOf(lines).test(full.slice(base.length), 'regex');
          if (r.ignored || r.unignored) return r.ignored;
        }
        return false;
      };
      const folders: [string, DirFilter][] = [['', filter.root(textOf(''))]];
      folders.push(['a/', folders[0]![1].child('a', textOf('a/'))]);
      folders.push(['a/tmp/', folders[1]![1].child('tmp', textOf('a/tmp/'))]);
      folders.push(['a/tmp/b/', folders[2]![1].child('b')]);
      folders.push(['tmp/', folders[0]![1].child('tmp')]);
      folders.push(['tmp/a/', folders[4]![1].child('a')]);
      for (const [rel, dir] of folders)
        for (const name of ['a', 'b', 'tmp', 'out', 'x.log', 'ab', 'zz', 'node_modules'])
          for (const isDir of [false, true]) {
            const what = `${cmdline.join(' ')} | ${[...files].map(([b, l]) => `${b}: ${l.join(' ')}`).join(' | ')} on ${rel}${name}${isDir ? '/' : ''}`;
            expect(dir.excluded(name, isDir), what).toBe(expected(rel, name, isDir));
          }
    }
  });
});
