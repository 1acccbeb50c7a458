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
interface RuleScan {
  test(path: string, mode: 'regex'): RuleTestResult;
  /** `ignore`'s compiled rules, each with the expression `test(path, 'regex')` asks. */
  _rules?: readonly { regex?: unknown }[];
}

/**
 * A quick "no rule can match" for a rule list (issue 16; the filter rows of the bench): one expression, the
 * alternation of every rule's own, asked once per path instead of each rule in turn. `ignore`'s scan asks each
 * rule's `regex` of the path (a basename-only rule gives the same answer against the whole path, its own comment
 * says), so when the alternation does not match, no rule does and the verdict is NONE; when it matches, the
 * exact scan decides as before. Made only where that holds plainly: every rule's expression a RegExp with the
 * same flags, none stateful (g, y), none with a back-reference or a named group (an alternation renumbers and
 * merges them); else undefined, and every path is scanned rule by rule. 20 typical patterns over 100k entries:
 * the rules' share of a no-op from ~40 ms to ~10 ms of the pass's thread.
 */
export function noRuleMatches(scan: RuleScan): ((path: string) => boolean) | undefined {
  const rules = scan._rules;
  if (!Array.isArray(rules) || rules.length < 2) return undefined;
  const regexes = rules.map((r) => r.regex);
  const flags = regexes[0] instanceof RegExp ? regexes[0].flags : undefined;
  if (flags === undefined || /[gy]/.test(flags)) return undefined;
  for (const r of regexes) if (!(r instanceof RegExp) || r.flags !== flags || /\\[1-9]|\\k<|\(\?</.test(r.source)) return undefined;
  try {
    const any = new RegExp((regexes as RegExp[]).map((r) => `(?:${r.source})`).join('|'), flags);
    // V8 parses an expression when it is made but compiles it on first use, and only then refuses one past its
    // size limit ("Regular expression too large": ~33k plain rules, ~5.5k of `a*b*c*d*e*f*g`). Compile it here,
    // so such a list is scanned rule by rule instead of failing the pass on its first entry (review 9b).
    any.test('');
    return (path) => {
      try {
        return !any.test(path);
      } catch {
        return false; // cannot tell: the exact scan decides
      }
    };
  } catch {
    return undefined;
  }
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
  /** noRuleMatches(scan), where it could be made. */
  none?: (path: string) => boolean;
}

function verdictOf(list: RuleList, path: string): Verdict {
  const relative = list.base === '' ? path : path.slice(list.base.length);
  if (list.none?.(relative)) return NONE;
  const r = list.scan.test(relative, 'regex');
  return r.ignored ? EXCLUDED : r.unignored ? INCLUDED : NONE;
}

/** Lines of a .gitignore-style text that are rules (not blank, not comments). */
function countRules(lines: readonly string[]): number {
  let n = 0;
  for (const line of lines) {
    const t = line.trim();
    if (t !== '' && !t.startsWith('#')) n++;
  }
  return n;
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
    this.ruleCount = countRules(lines);
    this.lists = this.ruleCount > 0 ? [this.listOf('', lines)] : [];
  }

  /** Build a pass's filter; throws UsageError (exit 2) on bad input. `source` is the source root. */
  static load(spec: FilterSpec, source: string): PassFilter {
    return new PassFilter(spec, loadRules(spec, source));
  }

  /** No rules, no ignore files, no markers: the walk can skip filtering altogether. */
  get inactive(): boolean {
    return this.ruleCount === 0 && this.ignoreFiles.length === 0 && this.markers.length === 0;
  }

  private listOf(base: string, lines: readonly string[]): RuleList {
    const scan = scannerOf(newIgnore(this.ignoreCase).add(lines as string[]));
    return { base, scan, none: noRuleMatches(scan) };
  }

  /** The filter of the source root, given the texts of the root's own ignore files (in `ignoreFiles` order). */
  root(ignoreFileTexts: readonly string[] = []): DirFilter {
    return new DirFilter(this, '', this.withFiles(this.lists, '', ignoreFileTexts));
  }

  /** @internal Rule lists for a folder: the parent's, with the folder's own ignore files (if any) deepest. */
  withFiles(parent: readonly RuleList[], base: string, texts: readonly string[]): readonly RuleList[] {
    const lines = texts.flatMap(splitLines);
    if (countRules(lines) === 0) return parent;
    const own = this.listOf(base, lines);
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
  ) {}

  /** Whether the rules exclude the entry `name` of this folder (`isDir`: it is a folder). Markers aside. */
  excluded(name: string, isDir: boolean): boolean {
    const lists = this.lists;
    if (lists.length === 0) return false;
    const path = isDir ? `${this.rel}${name}/` : this.rel + name;
    for (let i = 0; i < lists.length; i++) {
      const v = verdictOf(lists[i] as RuleList, path);
      if (v !== NONE) return v === EXCLUDED;
    }
    return false;
  }

  /** The filter inside the subfolder `name`, given the texts of its own ignore files (none: the same rules). */
  child(name: string, ignoreFileTexts: readonly string[] = []): DirFilter {
    const rel = `${this.rel}${name}/`;
    return new DirFilter(this.pass, rel, this.pass.withFiles(this.lists, rel, ignoreFileTexts));
  }
}
