/**
 * A quick "no rule of this list can match" for the walk (issue 16; the filter rows of the bench), asked before
 * `ignore`'s exact rule-by-rule scan (pass-filter.ts), which still decides whenever the answer is not "none".
 *
 * `ignore` turns each .gitignore rule into one expression asked of the whole path relative to the list's folder
 * (`a/b/name`, a folder's with a trailing `/`). Most rules only ever look at the last name, as git itself
 * matches a pattern with no slash against the base name alone (its PATTERN_FLAG_NODIR): `*.log` is
 * `(?:^|\/)[^\/]*\.log(?=$|\/$)`. Asking those of the name alone gives the same answer and costs a fifth of
 * asking them of the whole path (a walk asks once per entry, with the folders above in front). So the rules are
 * sorted by the shape of their expression (`shapeOf`), each kind asked where it can match:
 * - `name`: `(?:^|\/)BODY(?=$|\/$)` or `(?:^|\/)BODY\/$`, BODY unable to match a `/`: asked of the name;
 * - `top`: the same anchored with `^` (`/out/`): asked of the name, only in the list's own folder;
 * - `under`: `(?:^|\/)BODY\/[\s\S]` (`**\/tmp/**`): matches everything below a folder whose whole name BODY
 *   matches, at any depth; `underTop`: `^BODY\/[\s\S]` (`tmp/**`), the same for a folder in the list's own
 *   folder only. Asked once per folder entered (`enters`), not per entry;
 * - `rest` (`a/**\/b`, `doc/*.txt`, anything else): one alternation asked of the whole path, as before.
 * Why each is exact: a match of `(?:^|\/)BODY` followed by an end-anchored tail, BODY holding no `/`, lies within
 * one name and starts where that name starts; the tail puts it at the last one. The parse (`slashFree`) is
 * conservative: anything it does not know (a group, `.`, a class with an escape like `\s` or a range over `/`)
 * sends the rule to `rest`. test/filter.test.ts compares every answer with the exact scan over generated rules.
 */

/** The part of `ignore`'s rule list this module reads: each rule's compiled expression. */
export interface ScannedRules {
  _rules?: readonly { regex?: unknown }[];
}

type Shape = 'name' | 'top' | 'under' | 'underTop' | 'rest';

const ANY = '(?:^|\\/)';
const TAILS: readonly [tail: string, under: boolean][] = [
  ['(?=$|\\/$)', false],
  ['\\/$', false],
  ['\\/[\\s\\S]', true],
];

/** Which kind a rule's expression is, and for `under` kinds the expression a folder's whole name must match. */
export function shapeOf(source: string): { shape: Shape; body?: string } {
  const any = source.startsWith(ANY);
  if (!any && !source.startsWith('^')) return { shape: 'rest' };
  const rest = source.slice(any ? ANY.length : 1);
  for (const [tail, under] of TAILS) {
    if (!rest.endsWith(tail)) continue;
    const body = rest.slice(0, rest.length - tail.length);
    if (!slashFree(body)) return { shape: 'rest' };
    if (under) return { shape: any ? 'under' : 'underTop', body };
    return { shape: any ? 'name' : 'top' };
  }
  return { shape: 'rest' };
}

/** True when the expression `body` can never match a `/` (and holds nothing this parse does not know). */
export function slashFree(body: string): boolean {
  let i = 0;
  while (i < body.length) {
    const c = body[i]!;
    if (c === '\\') {
      const next = body[i + 1];
      // `\s`, `\w`, `\d`, `\b`, back-references...: not a plain character.
      if (next === undefined || /[A-Za-z0-9/]/.test(next)) return false;
      i += 2;
    } else if (c === '[') {
      const end = classEnd(body, i);
      if (end < 0 || classMayHoldSlash(body.slice(i + 1, end))) return false;
      i = end + 1;
    } else if (c === '*' || c === '+' || c === '?') {
      i++; // a quantifier (or a lazy one's `?`): repeats what is before it
    } else if ('^$.|(){}]/'.includes(c)) {
      return false;
    } else {
      i++;
    }
  }
  return true;
}

/** Index of the `]` closing the class opened at `open` (a `]` first in it counts as closing: JavaScript's rule). */
function classEnd(body: string, open: number): number {
  let i = open + 1;
  if (body[i] === '^') i++;
  while (i < body.length) {
    if (body[i] === '\\') i += 2;
    else if (body[i] === ']') return i;
    else i++;
  }
  return -1;
}

/**
 * Whether a class's set may hold `/`, read atom by atom as JavaScript reads it (a `-` between two atoms makes a
 * range; first or last it is itself); true also for anything not understood (escapes like `\s`, `\w`, `\b`).
 */
function classMayHoldSlash(content: string): boolean {
  const negated = content.startsWith('^');
  let i = negated ? 1 : 0;
  const atom = (): number | undefined => {
    const c = content[i]!;
    if (c !== '\\') {
      i++;
      return c.charCodeAt(0);
    }
    const next = content[i + 1];
    if (next === undefined || /[A-Za-z0-9]/.test(next)) return undefined;
    i += 2;
    return next.charCodeAt(0);
  };
  let covers = false;
  while (i < content.length) {
    const lo = atom();
    if (lo === undefined) return true;
    let hi = lo;
    if (content[i] === '-' && i + 1 < content.length) {
      i++;
      const end = atom();
      if (end === undefined) return true;
      hi = end;
    }
    if (lo <= 0x2f && 0x2f <= hi) covers = true;
  }
  return negated ? !covers : covers;
}

/**
 * One alternation of `sources` with `flags`, compiled now: V8 compiles an expression on first use and only then
 * refuses one past its size limit (review 9b), so a list too long for one is undefined here (scanned instead).
 */
function alternation(sources: readonly string[], flags: string, wrap = (s: string) => s): RegExp | undefined {
  if (sources.length === 0) return undefined;
  const any = new RegExp(wrap(sources.map((s) => `(?:${s})`).join('|')), flags);
  any.test('');
  return any;
}

/** The quick check of one rule list (see the module's comment). Make it with `quickRules`. */
export class QuickRules {
  constructor(
    private readonly name?: RegExp,
    private readonly top?: RegExp,
    private readonly under?: RegExp,
    private readonly underTop?: RegExp,
    private readonly rest?: RegExp,
  ) {}

  /** Whether some rule of the list is an `under` one: only then can a folder entered change `inside` (see `enters`). */
  get entering(): boolean {
    return this.under !== undefined || this.underTop !== undefined;
  }

  /**
   * True when no rule can match the entry `name` (a folder: `isDir`) of the folder at `rel` ('' or 'a/b/', relative
   * to the source root), for a list whose folder is `from` characters of it (the list's own folder: `rel.length`).
   * `inside`: the folder is at or below one that `enters` said yes to.
   */
  none(rel: string, from: number, name: string, isDir: boolean, inside: boolean): boolean {
    if (inside) return false;
    try {
      const last = isDir ? `${name}/` : name;
      if (this.name?.test(last)) return false;
      if (rel.length === from && this.top?.test(last)) return false;
      return this.rest === undefined || !this.rest.test((from === 0 ? rel : rel.slice(from)) + last);
    } catch {
      return false; // cannot tell: the exact scan decides
    }
  }

  /** True when an `under` rule matches everything below the folder `name` entered in `rel` (as in `none`). */
  enters(rel: string, from: number, name: string): boolean {
    try {
      return (this.under?.test(name) ?? false) || (rel.length === from && (this.underTop?.test(name) ?? false));
    } catch {
      return true;
    }
  }

  /** `none` for a whole relative path (`a/b/name`, a folder's with a trailing `/`): the walk's answer, for tests. */
  noneFor(path: string): boolean {
    const isDir = path.endsWith('/');
    const names = (isDir ? path.slice(0, -1) : path).split('/');
    let rel = '';
    let inside = false;
    for (const folder of names.slice(0, -1)) {
      inside ||= this.enters(rel, 0, folder);
      rel += `${folder}/`;
    }
    return this.none(rel, 0, names[names.length - 1]!, isDir, inside);
  }
}

/**
 * The quick check of a rule list, or undefined where it cannot be made plainly (the list is then scanned rule by
 * rule for every path): every rule's expression a RegExp with the same flags, none stateful (g, y), none with a
 * back-reference or a named group (an alternation renumbers and merges them), no alternation too large.
 */
export function quickRules(scan: ScannedRules): QuickRules | undefined {
  const rules = scan._rules;
  if (!Array.isArray(rules) || rules.length === 0) return undefined;
  const regexes = rules.map((r) => r.regex);
  const flags = regexes[0] instanceof RegExp ? regexes[0].flags : undefined;
  if (flags === undefined || /[gy]/.test(flags)) return undefined;
  const groups: Record<Shape, string[]> = { name: [], top: [], under: [], underTop: [], rest: [] };
  for (const r of regexes) {
    if (!(r instanceof RegExp) || r.flags !== flags || /\\[1-9]|\\k<|\(\?</.test(r.source)) return undefined;
    const { shape, body } = shapeOf(r.source);
    groups[shape].push(body ?? r.source);
  }
  try {
    const whole = (s: string) => `^(?:${s})$`;
    return new QuickRules(
      alternation(groups.name, flags),
      alternation(groups.top, flags),
      alternation(groups.under, flags, whole),
      alternation(groups.underTop, flags, whole),
      alternation(groups.rest, flags),
    );
  } catch {
    return undefined;
  }
}
