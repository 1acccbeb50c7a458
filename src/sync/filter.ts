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
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, realpathSync } from 'node:fs';
import { EntryChangedError } from './access.js';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type ignore from 'ignore';
import { describeError, RefusedError, UsageError } from '../errors.js';
import { compareNames, type Entry } from './entry.js';
import { isTempName } from './temp.js';

/** One `--exclude <pattern>` or `--exclude-from <file>`, in the order they were given. */
export type FilterRule = { exclude: string } | { excludeFrom: string };

/** What a pass is told to leave out (every field optional: no filter at all by default). */
export interface FilterSpec {
  rules?: readonly FilterRule[];
  /** `--ignore-file <name>`: files of these names in the source tree add rules for their folder and below. */
  ignoreFiles?: readonly string[];
  /** `--exclude-if-present <name>`: a folder holding an entry of one of these names is left out whole. */
  excludeIfPresent?: readonly string[];
  /** `--ignore-case`: letters match either case (default: exact case, as git on Linux). */
  ignoreCase?: boolean;
}

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
}

function verdictOf(list: RuleList, path: string): Verdict {
  const r = list.scan.test(list.base === '' ? path : path.slice(list.base.length), 'regex');
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

function splitLines(text: string): string[] {
  return text.replace(/^\uFEFF/, '').split(/\r?\n/);
}

/** A name for --ignore-file / --exclude-if-present: one path component. */
function checkEntryName(name: string, flag: string): string {
  if (
    name === '' ||
    name === '.' ||
    name === '..' ||
    name.includes('/') ||
    name.includes('\0') ||
    (process.platform === 'win32' && name.includes('\\'))
  ) {
    throw new UsageError(`${flag} needs a file name (no folder part), got ${JSON.stringify(name)}`);
  }
  return name;
}

/**
 * Why a pattern can never match because it names an absolute path instead of one relative to the source, or
 * undefined. Caught when it begins with the source folder's own path, with the folder holding the source
 * (`/home/me/other` for the source /home/me/src), or names an existing path of two or more names outside the
 * source (`/etc/hosts`); unless the source really has an entry of that first name (a copy of a whole disk holds
 * `home/`, and `/home/` is then a fine anchored pattern). A one-name anchored pattern such as `/tmp/` or `/bin/`
 * is always taken as a pattern: it is how a .gitignore says "at the top only".
 */
function absoluteProblem(pattern: string, sources: readonly string[], sourceHas: (name: string) => boolean): string | undefined {
  const body = pattern.startsWith('!') ? pattern.slice(1) : pattern;
  if (process.platform === 'win32' && /^[A-Za-z]:[\\/]/.test(body)) {
    return 'it is an absolute Windows path; patterns are relative to the source folder, with "/" between names';
  }
  if (!body.startsWith('/')) return undefined;
  const names = body.slice(1).split('/').filter(Boolean);
  const first = names[0] ?? '';
  if (first === '' || sourceHas(first)) return undefined;
  const path = body.replace(/\/+$/, '');
  const outside = `and patterns only match paths inside the source (relative to it: "/build/" is <source>/build)`;
  for (const source of sources) {
    if (path === source) return `it is the source folder itself (${source}); patterns are relative to the source folder`;
    if (path.startsWith(`${source}/`)) {
      const rest = path.slice(source.length);
      return `it is an absolute path inside the source ${source}; patterns are relative to the source folder: write ${JSON.stringify(rest + (body.endsWith('/') ? '/' : ''))}`;
    }
  }
  for (const source of sources) {
    const parent = dirname(source);
    if (parent !== '/' && parent !== source && path.startsWith(`${parent}/`))
      return `it is an absolute path outside the source ${source}, ${outside}`;
  }
  // Wildcards name no one path; a literal one that exists outside the source is a path, not a pattern.
  if (names.length >= 2 && !/[*?[\\]/.test(path) && lstatSync(path, { throwIfNoEntry: false }) !== undefined) {
    return `${path} is an existing path outside the source ${sources[0] ?? ''}, ${outside}`;
  }
  return undefined;
}

/** Check one `--exclude` pattern (one .gitignore line); throws UsageError (exit 2) naming it and why. */
function checkPattern(pattern: string, where: string, sources: readonly string[], sourceHas: (name: string) => boolean): void {
  if (pattern.trim() === '' || pattern === '!' || /^!\s*$/.test(pattern)) throw new UsageError(`${where} is empty`);
  if (/[\r\n\0]/.test(pattern)) throw new UsageError(`${where} contains a line break; give one pattern per --exclude`);
  if (pattern.startsWith('#')) {
    throw new UsageError(
      `${where} ${JSON.stringify(pattern)} is a comment in .gitignore syntax and matches nothing; write ${JSON.stringify(`\\${pattern}`)} for a name starting with #`,
    );
  }
  if (/^!?\/+$/.test(pattern.trimEnd()))
    throw new UsageError(`${where} ${JSON.stringify(pattern)} can never match: it names no entry (the source folder itself is never excluded)`);
  const why = absoluteProblem(pattern, sources, sourceHas);
  if (why) throw new UsageError(`${where} ${JSON.stringify(pattern)} can never match: ${why}`);
}

function realSource(source: string): string {
  try {
    return realpathSync(source);
  } catch {
    return resolve(source); // the pass guards report a missing source
  }
}

/**
 * A `--exclude` is one whole pattern, as git's own `--exclude` takes it: trailing spaces are part of it (the
 * shell already said where it ends), where a .gitignore line would drop the unescaped ones. So they are escaped.
 */
function keepTrailingSpaces(pattern: string): string {
  if (!pattern.endsWith(' ')) return pattern;
  let run = pattern.length;
  while (run > 0 && pattern[run - 1] === ' ') run--;
  let slashes = 0;
  while (run - slashes - 1 >= 0 && pattern[run - slashes - 1] === '\\') slashes++;
  // An odd number of backslashes before the run already escapes its first space.
  const first = slashes % 2 === 1 ? 1 : 0;
  return pattern.slice(0, run + first) + '\\ '.repeat(pattern.length - run - first);
}

/** Read an `--exclude-from` file (exit 2 when it cannot be read). */
export function readExcludeFrom(file: string): string[] {
  try {
    return splitLines(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`--exclude-from file cannot be read: ${resolve(file)}: ${describeError(error)}`);
  }
}

/**
 * Check a filter spec before anything happens: patterns not empty, no absolute paths, `--exclude-from` files
 * readable, names plain. Throws UsageError (exit 2). Returns the spec with `--exclude-from` paths made absolute.
 */
export function checkFilterSpec(spec: FilterSpec, source: string): FilterSpec {
  loadRules(spec, source);
  return {
    ...spec,
    rules: spec.rules?.map((r) => ('excludeFrom' in r ? { excludeFrom: resolve(r.excludeFrom) } : r)),
  };
}

/** The command-line rule lines in order, each checked; throws UsageError. */
function loadRules(spec: FilterSpec, source: string): string[] {
  for (const name of spec.ignoreFiles ?? []) checkEntryName(name, '--ignore-file');
  for (const name of spec.excludeIfPresent ?? []) checkEntryName(name, '--exclude-if-present');
  const sources = [...new Set([resolve(source), realSource(source)])];
  const sourceHas = (name: string): boolean => lstatSync(join(source, name), { throwIfNoEntry: false }) !== undefined;
  const lines: string[] = [];
  for (const rule of spec.rules ?? []) {
    if ('exclude' in rule) {
      checkPattern(rule.exclude, '--exclude pattern', sources, sourceHas);
      lines.push(keepTrailingSpaces(rule.exclude));
    } else {
      const fileLines = readExcludeFrom(rule.excludeFrom);
      fileLines.forEach((line, i) => {
        const t = line.trim();
        if (t === '' || t.startsWith('#')) return;
        const why = absoluteProblem(line.trimEnd(), sources, sourceHas);
        if (why) throw new UsageError(`--exclude-from ${resolve(rule.excludeFrom)} line ${i + 1} ${JSON.stringify(line)} can never match: ${why}`);
      });
      lines.push(...fileLines);
    }
  }
  return lines;
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
    this.lists = this.ruleCount > 0 ? [{ base: '', scan: this.compile(lines) }] : [];
  }

  /** Build a pass's filter; throws UsageError (exit 2) on bad input. `source` is the source root. */
  static load(spec: FilterSpec, source: string): PassFilter {
    return new PassFilter(spec, loadRules(spec, source));
  }

  /** No rules, no ignore files, no markers: the walk can skip filtering altogether. */
  get inactive(): boolean {
    return this.ruleCount === 0 && this.ignoreFiles.length === 0 && this.markers.length === 0;
  }

  private compile(lines: readonly string[]): RuleScan {
    return scannerOf(newIgnore(this.ignoreCase).add(lines as string[]));
  }

  /** The filter of the source root, given the texts of the root's own ignore files (in `ignoreFiles` order). */
  root(ignoreFileTexts: readonly string[] = []): DirFilter {
    return new DirFilter(this, '', this.withFiles(this.lists, '', ignoreFileTexts));
  }

  /** @internal Rule lists for a folder: the parent's, with the folder's own ignore files (if any) deepest. */
  withFiles(parent: readonly RuleList[], base: string, texts: readonly string[]): readonly RuleList[] {
    const lines = texts.flatMap(splitLines);
    if (countRules(lines) === 0) return parent;
    const own: RuleList = { base, scan: this.compile(lines) };
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

/**
 * Read a source folder's ignore files from its listing (regular files only: a link named .gitignore is not
 * followed, as git does not). Throws when one cannot be read: its folder cannot be filtered faithfully.
 */
export function readIgnoreFiles(filter: PassFilter, dir: string, entries: readonly Entry[], shownDir = dir): string[] {
  const texts: string[] = [];
  if (filter.ignoreFiles.length === 0) return texts;
  for (const name of filter.ignoreFiles) {
    const entry = entries.find((e) => e.name === name);
    if (entry?.type !== 'file') continue;
    try {
      texts.push(readListedFile(join(dir, name), entry));
    } catch (error) {
      // Named by the folder's real path, not the handle's (`dir` may be `/proc/self/fd/<fd>`).
      if (error && typeof error === 'object') (error as NodeJS.ErrnoException).path = join(shownDir, name);
      throw error;
    }
  }
  return texts;
}

/**
 * Read a file the listing saw as a regular file, without following a link swapped in since (O_NOFOLLOW) and
 * only if it is still the file listed (its inode): nothing outside the source is read as patterns either.
 */
function readListedFile(path: string, entry: Entry): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new EntryChangedError(path);
    throw error;
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile() || (entry.ino !== undefined && st.ino !== entry.ino)) throw new EntryChangedError(path);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** One folder's listings with the filter applied: what the planner sees, and what was left out (for the log). */
export interface FilteredListings {
  src: Entry[];
  dst: Entry[];
  /** Source entries left out. */
  excluded: Entry[];
  /** Replica entries left alone because they match an exclude (not with --delete-excluded). */
  protected: Entry[];
}

/**
 * Apply a folder's filter to both listings (each sorted by compareNames). An excluded source entry is dropped;
 * its replica counterpart is dropped too (left alone) unless `deleteExcluded`, when it stays and is planned as an
 * extra to remove. A replica-only entry that matches an exclude (pattern, or a marker inside a folder) is left
 * alone likewise. A pair whose source entry is kept is always planned (the source decides), and this tool's own
 * temporaries are never protected.
 */
export function filterListings(
  dir: DirFilter,
  src: readonly Entry[],
  dst: readonly Entry[],
  opts: { deleteExcluded: boolean; srcMarked: (name: string) => boolean; dstMarked: (name: string) => boolean },
): FilteredListings {
  const out: FilteredListings = { src: [], dst: [], excluded: [], protected: [] };
  const markers = dir.pass.markers.length > 0;
  let j = 0;
  for (const s of src) {
    const isDir = s.type === 'dir';
    const out1 = dir.excluded(s.name, isDir) || (markers && isDir && opts.srcMarked(s.name));
    // Replica entries before this name have no source counterpart.
    while (j < dst.length && compareNames((dst[j] as Entry).name, s.name) < 0) keepOrProtect(dst[j++] as Entry);
    const pair = j < dst.length && (dst[j] as Entry).name === s.name ? (dst[j++] as Entry) : undefined;
    if (out1) {
      out.excluded.push(s);
      if (pair) (opts.deleteExcluded ? out.dst : out.protected).push(pair);
    } else {
      out.src.push(s);
      if (pair) out.dst.push(pair);
    }
  }
  while (j < dst.length) keepOrProtect(dst[j++] as Entry);
  return out;

  function keepOrProtect(d: Entry): void {
    if (opts.deleteExcluded || isTempName(d.name)) {
      out.dst.push(d);
      return;
    }
    const isDir = d.type === 'dir';
    if (dir.excluded(d.name, isDir) || (markers && isDir && opts.dstMarked(d.name))) out.protected.push(d);
    else out.dst.push(d);
  }
}

/**
 * The filter as a pass's walk uses it: the folder filters (ignore files read as folders are entered, markers
 * looked for), the listings filtered before planning, and one debug line per entry left out.
 */
export class WalkFilter {
  constructor(
    readonly pass: PassFilter,
    private readonly deleteExcluded: boolean,
    /** Where the debug lines go (undefined: nowhere, as in the --max-delete count). */
    private readonly debug?: (message: string) => void,
  ) {}

  /** The source root's filter, from its listing. Throws RefusedError when one of its ignore files cannot be read. */
  root(source: string, entries: readonly Entry[]): DirFilter {
    try {
      return this.pass.root(readIgnoreFiles(this.pass, source, entries));
    } catch (error) {
      throw new RefusedError(`${describeIgnoreFailure(error)} in the source folder ${source}; nothing was changed`);
    }
  }

  /** A subfolder's filter, from its listing. Throws when one of its ignore files cannot be read (the folder fails). */
  child(parent: DirFilter, name: string, srcPath: string, entries: readonly Entry[], shownPath = srcPath): DirFilter {
    try {
      return parent.child(name, readIgnoreFiles(this.pass, srcPath, entries, shownPath));
    } catch (error) {
      throw new Error(`${describeIgnoreFailure(error)}; the folder is left as it is`);
    }
  }

  /** One folder's listings as the planner must see them (see filterListings); excluded entries logged as debug. */
  listings(dir: DirFilter, srcPath: string, dstPath: string, src: readonly Entry[], dst: readonly Entry[]): { src: Entry[]; dst: Entry[] } {
    const out = filterListings(dir, src, dst, {
      deleteExcluded: this.deleteExcluded,
      srcMarked: (name) => this.pass.hasMarker(join(srcPath, name)),
      dstMarked: (name) => this.pass.hasMarker(join(dstPath, name)),
    });
    if (this.debug) {
      for (const e of out.excluded) this.debug(`excluded ${JSON.stringify(dir.rel + e.name)}`);
      for (const e of out.protected) this.debug(`left alone (excluded) ${JSON.stringify(dir.rel + e.name)}`);
    }
    return out;
  }

  /**
   * What inside a replica folder the pass removes (the extra entry `name` of `dir`'s folder) is left alone: what
   * matches an exclude stays, and so does the folder then. Undefined with --delete-excluded (everything goes).
   */
  insideRemoved(dir: DirFilter, name: string): RemovalGuard | undefined {
    return this.deleteExcluded ? undefined : new RemovalGuard(this, dir.child(name), this.debug);
  }

  /** Whether the source root holds anything that would be mirrored (the empty-source guard's question). */
  mirrorsAnything(dir: DirFilter, source: string, entries: readonly Entry[]): boolean {
    const kept = filterListings(dir, entries, [], {
      deleteExcluded: false,
      srcMarked: (name) => this.pass.hasMarker(join(source, name)),
      dstMarked: () => false,
    });
    return kept.src.some((e) => e.type !== 'special');
  }
}

/** The rules inside a replica folder being removed: which of its entries stay (see WalkFilter.insideRemoved). */
export class RemovalGuard {
  constructor(
    private readonly walk: WalkFilter,
    private readonly dir: DirFilter,
    private readonly debug?: (message: string) => void,
  ) {}

  /** True when `child` (an entry of the folder at `folderPath`) matches an exclude and stays. */
  keeps(child: Entry, folderPath: string): boolean {
    if (isTempName(child.name)) return false;
    const isDir = child.type === 'dir';
    if (!this.dir.excluded(child.name, isDir) && !(isDir && this.walk.pass.hasMarker(join(folderPath, child.name)))) return false;
    this.debug?.(`left alone (excluded) ${JSON.stringify(this.dir.rel + child.name)}`);
    return true;
  }

  /** The guard inside a subfolder. */
  inside(name: string): RemovalGuard {
    return new RemovalGuard(this.walk, this.dir.child(name), this.debug);
  }
}

function describeIgnoreFailure(error: unknown): string {
  const path = (error as NodeJS.ErrnoException).path;
  return `ignore file ${path ? JSON.stringify(path) : ''} cannot be read: ${describeError(error)}`;
}
