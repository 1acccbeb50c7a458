import type { ArgsDef } from 'citty';
import type { FilterRule, FilterSpec } from '../sync/filter.js';

/** The exclude flags every pass-running command shares (sync-once, run, schedule); see docs/filters.md. */
export const filterArgs = {
  exclude: {
    type: 'string',
    valueHint: 'pattern',
    description: 'Leave out what this .gitignore pattern matches (repeatable; later rules win, ! re-includes)',
  },
  'exclude-from': {
    type: 'string',
    valueHint: 'file',
    description: 'Read exclude patterns from a file, one a line, # comments, as a .gitignore (repeatable)',
  },
  'ignore-file': {
    type: 'string',
    valueHint: 'name',
    description: 'Also obey files of this name in the source tree (.gitignore), each for its folder and below (repeatable)',
  },
  'exclude-if-present': {
    type: 'string',
    valueHint: 'name',
    description: 'Leave out whole every folder holding an entry of this name, e.g. .nobackup or CACHEDIR.TAG (repeatable)',
  },
  'ignore-case': { type: 'boolean', description: 'Patterns match letters of either case (default: exact case)' },
  'delete-excluded': {
    type: 'boolean',
    description: 'Remove replica entries that match an exclude, like other extras (default: left alone)',
  },
} as const satisfies ArgsDef;

const REPEATED = ['exclude', 'exclude-from', 'ignore-file', 'exclude-if-present'] as const;
type Repeated = (typeof REPEATED)[number];
const isRepeated = (name: string): name is Repeated => (REPEATED as readonly string[]).includes(name);

/**
 * The filter flags of a command line, in order. citty keeps only the last value of a repeated flag, so the raw
 * words are read here, as checkArgs (./_args.ts) reads them: a string flag takes the next word, dash or not.
 * `def` is the command's arguments (to skip the values of its other string flags); `args` citty's parse.
 */
export function parseFilterArgs(
  rawArgs: readonly string[],
  def: ArgsDef,
  args: Record<string, unknown>,
): { filter: FilterSpec; deleteExcluded: boolean } {
  const values: Record<Repeated, string[]> = { exclude: [], 'exclude-from': [], 'ignore-file': [], 'exclude-if-present': [] };
  const rules: FilterRule[] = [];
  const takesValue = new Set<string>();
  for (const [name, d] of Object.entries(def)) {
    if (d.type !== 'string' && d.type !== 'enum') continue;
    takesValue.add(name);
    for (const alias of [('alias' in d ? d.alias : undefined) ?? []].flat()) takesValue.add(alias);
  }
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i] ?? '';
    if (arg === '--') break;
    if (!arg.startsWith('-') || arg === '-') continue;
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (!isRepeated(name)) {
      if (eq < 0 && takesValue.has(name)) i++; // its value, whatever it looks like
      continue;
    }
    const value = eq >= 0 ? body.slice(eq + 1) : rawArgs[++i];
    if (value === undefined) continue; // checkArgs reports the missing value
    values[name].push(value);
    if (name === 'exclude') rules.push({ exclude: value });
    else if (name === 'exclude-from') rules.push({ excludeFrom: value });
  }
  const filter: FilterSpec = {};
  if (rules.length > 0) filter.rules = rules;
  if (values['ignore-file'].length > 0) filter.ignoreFiles = values['ignore-file'];
  if (values['exclude-if-present'].length > 0) filter.excludeIfPresent = values['exclude-if-present'];
  if (args['ignore-case'] === true) filter.ignoreCase = true;
  return { filter, deleteExcluded: args['delete-excluded'] === true };
}
