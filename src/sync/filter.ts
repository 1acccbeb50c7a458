/**
 * What a pass is told to leave out (`FilterSpec`: `--exclude`, `--exclude-from`, `--ignore-file`,
 * `--exclude-if-present`, `--ignore-case`), checked before anything happens: patterns that can never match, files
 * that cannot be read and names with a folder part are refused with exit 2. How the rules are then applied:
 * pass-filter.ts; how a pass's walk uses them: walk-filter.ts.
 */
import { lstatSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describeError, UsageError } from '../errors.js';

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

/** The lines of a .gitignore-style text (a leading byte-order mark dropped). */
export function splitLines(text: string): string[] {
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
export function loadRules(spec: FilterSpec, source: string): string[] {
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
