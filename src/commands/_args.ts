import type { ArgDef, ArgsDef } from 'citty';
import { UsageError } from '../errors.js';
import type { VersionsOption } from '../versions/names.js';

// issue 14: --versions and its retention (docs/versions.md); part of passArgs below.
export const versionsArgs = {
  versions: {
    type: 'string',
    valueHint: 'dir',
    description: "Keep what a pass removes or overwrites: moved into <dir>/<pass start>/<path> (on the replica's disk)",
  },
  'keep-days': { type: 'string', valueHint: 'n', description: 'With --versions: prune pass folders older than n days (no limit)' },
  'keep-versions': { type: 'string', valueHint: 'n', description: 'With --versions: keep only the n newest pass folders (no limit)' },
} as const satisfies ArgsDef;

/** `--versions` and its retention from parsed flags; undefined without --versions (a limit alone is a usage error). */
export function parseVersionsArgs(args: { versions?: unknown; 'keep-days'?: unknown; 'keep-versions'?: unknown }): VersionsOption | undefined {
  const keepDays = parseCount(args['keep-days'], '--keep-days');
  const keepVersions = parseCount(args['keep-versions'], '--keep-versions');
  for (const [flag, n] of [
    ['--keep-days', keepDays],
    ['--keep-versions', keepVersions],
  ] as const) {
    if (n === 0) throw new UsageError(`${flag} needs a whole number of 1 or more, got 0`);
  }
  if (args.versions === undefined || args.versions === false) {
    if (keepDays !== undefined || keepVersions !== undefined) throw new UsageError('--keep-days and --keep-versions need --versions <dir>');
    return undefined;
  }
  const dir = String(args.versions);
  if (dir.trim() === '') throw new UsageError('--versions needs a folder');
  return { dir, ...(keepDays !== undefined && { keepDays }), ...(keepVersions !== undefined && { keepVersions }) };
}
// end issue 14

/** Flags every pass-running command shares (sync-once, run, and the ones `schedule` passes on). */
export const passArgs = {
  checksum: {
    type: 'boolean',
    description: 'Also compare file contents by hash when size and mtime match (slower, catches silent edits)',
  },
  'max-delete': {
    type: 'string',
    valueHint: 'n',
    description: 'Refuse the whole pass, before any change, if it would remove more than n entries',
  },
  'allow-empty-source': {
    type: 'boolean',
    description: 'Let an empty source empty a non-empty replica (refused by default: an unmounted disk looks empty)',
  },
  'log-format': {
    type: 'string',
    valueHint: 'text|json',
    description: 'Log file format: text lines (default) or JSON Lines',
  },
  ...versionsArgs, // issue 14
} as const satisfies ArgsDef;

/** The `<interval> <unit>` positionals of schedule and run (parsed by parseInterval in src/schedule/interval.ts). */
export const intervalArgs = {
  interval: { type: 'positional', required: true, description: 'How often a pass starts: a whole number of units, 1 or more' },
  unit: {
    type: 'positional',
    required: true,
    description: 'seconds, minutes, hours, days or weeks (singular and any case accepted; at most 366 days in all)',
  },
} as const satisfies ArgsDef;

/** Console flags. */
export const outputArgs = {
  quiet: { type: 'boolean', description: 'Console shows only warnings and errors (the log file still gets everything)' },
  verbose: { type: 'boolean', description: 'Console also shows debug lines, and stack traces on errors' },
} as const satisfies ArgsDef;

/** The source and replica positionals. */
export const folderArgs = {
  source: { type: 'positional', required: true, description: 'Folder to copy from (never modified)' },
  replica: { type: 'positional', required: true, description: 'Folder to keep an exact copy in (created if missing)' },
} as const satisfies ArgsDef;

/** A count flag: a whole number >= 0, or undefined when absent. */
export function parseCount(value: unknown, flag: string): number | undefined {
  if (value === undefined || value === false) return undefined;
  const text = String(value);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${flag} needs a whole number of 0 or more, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

export function parseLogFormat(value: unknown): 'text' | 'json' {
  if (value === undefined) return 'text';
  if (value === 'text' || value === 'json') return value;
  throw new UsageError(`--log-format must be "text" or "json", got ${JSON.stringify(String(value))}`);
}

/**
 * Reject what citty lets through: unknown flags, flags missing their value, missing or extra positionals.
 * Mirrors util.parseArgs as citty calls it: a string flag takes the next word as its value, dash or not.
 */
export function checkArgs(rawArgs: readonly string[], def: ArgsDef): void {
  const byName = new Map<string, ArgDef>();
  for (const [name, d] of Object.entries(def)) {
    if (d.type === 'positional') continue;
    byName.set(name, d);
    for (const alias of [('alias' in d ? d.alias : undefined) ?? []].flat()) byName.set(alias, d);
  }
  const positionals = Object.entries(def).filter(([, d]) => d.type === 'positional');
  let count = 0;
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i] ?? '';
    if (arg === '--') {
      count += rawArgs.length - i - 1;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      count++;
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    let d = byName.get(name);
    if (!d && name.startsWith('no-')) {
      const positive = byName.get(name.slice(3));
      if (positive?.type === 'boolean') d = positive;
    }
    if (!d) throw new UsageError(`unknown option ${JSON.stringify(arg.split('=')[0])}`);
    if (d.type === 'string' || d.type === 'enum') {
      if (eq >= 0) continue;
      if (i + 1 >= rawArgs.length) throw new UsageError(`option --${name} needs a value`);
      i++;
    } else if (eq >= 0) {
      throw new UsageError(`option --${name} takes no value`);
    }
  }
  const required = positionals.filter(([, d]) => d.required !== false).length;
  if (count < required) {
    const missing = positionals[count]?.[0] ?? 'argument';
    throw new UsageError(`missing argument <${missing}>`);
  }
  if (count > positionals.length) {
    throw new UsageError(`too many arguments: expected ${positionals.map(([n]) => `<${n}>`).join(' ') || 'none'}`);
  }
}

/** Alerts (src/notify, docs/alerts.md): sync-once, schedule and run. */
export const notifyArgs = {
  'notify-url': {
    type: 'string',
    valueHint: 'url',
    description: 'Ping this URL (healthchecks.io style: /start, then the URL on success or /<exit code>; Uptime Kuma push URLs too)',
  },
  'on-failure': {
    type: 'string',
    valueHint: 'command',
    description: 'Run this /bin/sh command after a pass that exits non-zero (FOLDER_SYNC_* variables, summary on stdin)',
  },
  'on-success': { type: 'string', valueHint: 'command', description: 'Run this /bin/sh command after a pass that exits 0' },
} as const satisfies ArgsDef;
