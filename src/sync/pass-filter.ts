/**
 * Exclude rules with .gitignore semantics, shaped for a walk that enters one folder at a time.
 *
 * The matching itself is the `ignore` package's (the .gitignore implementation ESLint and Prettier use); this
 * module only decides which rule lists apply to an entry and in which order, as git does:
 * - the command-line list (`--exclude` patterns and `--exclude-from` lines, in the order given) comes first:
 *   when one of its rules matches an entry (a `!` rule included), that decides, like git's `--exclude`;
 * - otherwise the ignore files (`--ignore-file <name>`) of the entry's folder and of every folder above it, the
 *   deepest first, each with its patterns relative to the folder holding it; the last matching rule of the
 *   first list that has one decides; no match: the entry is kept.
 * A folder that is excluded is never entered, so nothing below it can be re-included (git's rule too).
 * Paths are relative to the source root with `/` on every platform; folders are tested with a trailing `/`.
 */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type ignore from 'ignore';
import { loadRules, splitLines, type FilterSpec } from './filter.js';
import { quickRules, type QuickRules, type ScannedRules } from './rule-quick.js';

/** The verdict of one rule list on one path: no rule matched, a rule excludes it, or a `!` rule re-includes it. */
const NONE = 0;
const EXCLUDED = 1;
const INCLUDED = 2;
type Verdict = typeof NONE | typeof EXCLUDED | typeof INCLUDED;

interface RuleTestResult {
  ignored: boolean;
  unignored: boolean;
}

/**
 * `ignore` answers `test()` through a cache that keeps every path it was asked about, and checks each parent
 * folder again with the same list. Neither fits a walk: the walk never enters an excluded folder (so parents are
 * settled), and a folder re-included by a higher list (`--exclude '!dist/'` over a `dist/` in .gitignore) must
 * not make the lower list exclude everything inside it. So the rule list is asked directly, one path, no parents
 * and no cache: `ignore`'s own last-rule-wins scan, the same that `test()` runs for the path itself. The
 * differential tests against `git` (test/filter-git.test.ts) pin that this gives git's answers.
 */
interface RuleScan extends ScannedRules {
  test(path: string, mode: 'regex'): RuleTestResult;
}

/** `ignore` is loaded on first use: a pass without rules does not pay for it. */
let loadedIgnore: typeof ignore | undefined;
function newIgnore(ignoreCase: boolean): ignore.Ignore {
  loadedIgnore ??= createRequire(import.meta.url)('ignore') as typeof ignore;
  return loadedIgnore({ ignoreCase });
}

function scannerOf(ig: ignore.Ignore): RuleScan {
  const rules = (ig as unknown as { _rules?: RuleScan })._rules;
  if (typeof rules?.test !== 'function') {
    throw new Error('the installed "ignore" package has changed its internals; install the version package-lock.json names');
  }
  return rules;
}

/** One list of rules and the folder its patterns are relative to ('' for the source root, else 'a/b/'). */
interface RuleList {
  base: string;
  scan: RuleScan;
  /** quickRules(scan), where it could be made: asked first, so that most entries need no scan at all. */
  quick?: QuickRules;
  /** How many rules `ignore` made of the lines. */
  count: number;
}

/** The verdict of `list` on the entry at `path` (relative to the source root, a folder's with a trailing `/`). */
function verdictOf(list: RuleList, path: string): Verdict {
  const r = list.scan.test(list.base === '' ? path : path.slice(list.base.length), 'regex');
  return r.ignored ? EXCLUDED : r.unignored ? INCLUDED : NONE;
}

/**
 * The filter of one pass: the command-line rules, the names of per-folder ignore files and markers. Build it
 * with `PassFilter.load` (which checks everything, exit 2), then walk with `root()` and `DirFilter.child()`.
 */
export class PassFilter {
  /** Rules from the command line (`--exclude` and `--exclude-from` lines that are rules). */
  readonly ruleCount: number;
  readonly ignoreFiles: readonly string[];
  readonly markers: readonly string[];
  readonly ignoreCase: boolean;
  private readonly lists: readonly RuleList[];

  private constructor(spec: FilterSpec, lines: readonly string[]) {
    this.ignoreCase = spec.ignoreCase ?? false;
    this.ignoreFiles = [...new Set(spec.ignoreFiles ?? [])];
    this.markers = [...new Set(spec.excludeIfPresent ?? [])];
    const list = this.listOf('', lines);
    this.ruleCount = list?.count ?? 0;
    this.lists = list ? [list] : [];
  }

  /** Build a pass's filter; throws UsageError (exit 2) on bad input. `source` is the source root. */
  static load(spec: FilterSpec, source: string): PassFilter {
    return new PassFilter(spec, loadRules(spec, source));
  }

  /** No rules, no ignore files, no markers: the walk can skip filtering altogether. */
  get inactive(): boolean {
    return this.ruleCount === 0 && this.ignoreFiles.length === 0 && this.markers.length === 0;
  }

  /**
   * The rule list of `lines`, or undefined when they hold no rule. Which lines are rules is `ignore`'s answer, as
   * git reads them (review 17: a line `" #x"`, a tab or a no-break space is a rule; only a `#` in the first column
   * starts a comment, and only trailing spaces are trimmed), so nothing is counted differently from how it matches.
   */
  private listOf(base: string, lines: readonly string[]): RuleList | undefined {
    if (lines.every((line) => line === '')) return undefined; // nothing to load `ignore` for
    const scan = scannerOf(newIgnore(this.ignoreCase).add(lines as string[]));
    const count = Array.isArray(scan._rules) ? scan._rules.length : 1;
    return count > 0 ? { base, scan, quick: quickRules(scan), count } : undefined;
  }

  /** The filter of the source root, given the texts of the root's own ignore files (in `ignoreFiles` order). */
  root(ignoreFileTexts: readonly string[] = []): DirFilter {
    const lists = this.withFiles(this.lists, '', ignoreFileTexts);
    return new DirFilter(this, '', lists, new Array<boolean>(lists.length).fill(false));
  }

  /** @internal Rule lists for a folder: the parent's, with the folder's own ignore files (if any) deepest. */
  withFiles(parent: readonly RuleList[], base: string, texts: readonly string[]): readonly RuleList[] {
    const own = this.listOf(base, texts.flatMap(splitLines));
    if (!own) return parent;
    // The command-line list stays first; a deeper file goes before the shallower ones (it is asked earlier).
    const cmdline = this.ruleCount > 0 ? 1 : 0;
    return [...parent.slice(0, cmdline), own, ...parent.slice(cmdline)];
  }

  /** For the pass start line: "3 rules, ignore files .gitignore, exclude-if-present .nobackup". */
  describe(): string | undefined {
    if (this.inactive) return undefined;
    const parts = [`${this.ruleCount} exclude rule${this.ruleCount === 1 ? '' : 's'}`];
    if (this.ignoreFiles.length > 0) parts.push(`ignore files ${this.ignoreFiles.join(', ')}`);
    if (this.markers.length > 0) parts.push(`exclude-if-present ${this.markers.join(', ')}`);
    if (this.ignoreCase) parts.push('ignoring case');
    return parts.join(', ');
  }

  /** True when the folder at `path` holds an entry named like a marker (lstat: a dangling link counts too). */
  hasMarker(path: string): boolean {
    for (const marker of this.markers) {
      try {
        if (lstatSync(join(path, marker), { throwIfNoEntry: false })) return true;
      } catch {
        // cannot look inside: the folder's own listing reports that
      }
    }
    return false;
  }
}

/** The rules in force inside one folder of the source (relative path `rel`, '' or 'a/b/'). */
export class DirFilter {
  constructor(
    readonly pass: PassFilter,
    readonly rel: string,
    private readonly lists: readonly RuleList[],
    /** Per list: this folder is at or below one its quick check `enters` (every entry is then scanned). */
    private readonly inside: readonly boolean[],
    /** Some list has a rule that a folder entered can make match everything below it (QuickRules.entering). */
    private readonly entering = lists.some((list) => list.quick?.entering ?? false),
  ) {}

  /** Whether the rules exclude the entry `name` of this folder (`isDir`: it is a folder). Markers aside. */
  excluded(name: string, isDir: boolean): boolean {
    const lists = this.lists;
    if (lists.length === 0) return false;
    let path: string | undefined;
    for (let i = 0; i < lists.length; i++) {
      const list = lists[i] as RuleList;
      if (list.quick?.none(this.rel, list.base.length, name, isDir, this.inside[i] as boolean)) continue;
      path ??= isDir ? `${this.rel}${name}/` : this.rel + name;
      const v = verdictOf(list, path);
      if (v !== NONE) return v === EXCLUDED;
    }
    return false;
  }

  /**
   * The filter inside the subfolder `name`, given the texts of its own ignore files (none: the same rules). Made
   * per folder on both threads, so the common case (no ignore file there, no `**\/x/**` rule) allocates nothing
   * but the filter itself.
   */
  child(name: string, ignoreFileTexts: readonly string[] = []): DirFilter {
    const rel = `${this.rel}${name}/`;
    const lists = ignoreFileTexts.length > 0 ? this.pass.withFiles(this.lists, rel, ignoreFileTexts) : this.lists;
    const same = lists === this.lists;
    if (same && !this.entering) return new DirFilter(this.pass, rel, lists, this.inside, false);
    const inside = lists.map((list, k) => {
      const i = same ? k : this.lists.indexOf(list);
      if (i < 0) return false; // the folder's own ignore file: its rules start here
      return (this.inside[i] as boolean) || (list.quick?.enters(this.rel, list.base.length, name) ?? false);
    });
    const unchanged = same && inside.every((flag, i) => flag === this.inside[i]);
    return new DirFilter(this.pass, rel, lists, unchanged ? this.inside : inside, same ? this.entering : undefined);
  }
}
