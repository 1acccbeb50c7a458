import { basename, dirname, join, resolve } from 'node:path';
import { defineCommand } from 'citty';
import { DEMO_DEFAULTS, planDemoTree, writeDemoTree } from '../demo/generate.js';
import { UsageError } from '../errors.js';
import { formatBytes } from '../progress.js';
import { parseCount } from './_args.js';

export const demoArgs = {
  dir: {
    type: 'positional',
    required: false,
    default: 'demo/source',
    description: 'Folder to write the demo tree into: new, empty, or an earlier demo tree (which is replaced)',
  },
  seed: {
    type: 'string',
    valueHint: 'n',
    default: String(DEMO_DEFAULTS.seed),
    description: 'Random seed, 0 to 4294967295: the same seed writes the same tree (names, bytes, modes, mtimes)',
  },
  files: { type: 'string', valueHint: 'n', default: String(DEMO_DEFAULTS.files), description: 'Number of files' },
  folders: { type: 'string', valueHint: 'n', default: String(DEMO_DEFAULTS.folders), description: 'Number of folders' },
} as const;

/** A whole-number flag with an upper bound. */
function bounded(value: unknown, flag: string, max: number): number {
  const n = parseCount(value, flag) ?? 0;
  if (n > max) throw new UsageError(`${flag} must be at most ${max}, got ${n}`);
  return n;
}

/** Where the README's next command puts the replica and the log: beside the demo source. */
function siblings(dir: string): { replica: string; log: string } {
  const parent = dirname(dir);
  return basename(dir) === 'source'
    ? { replica: join(parent, 'replica'), log: join(parent, 'folder-sync.log') }
    : { replica: `${dir}-replica`, log: `${dir}-sync.log` };
}

export default defineCommand({
  meta: {
    name: 'demo',
    description:
      'Write a seeded, random demo folder tree to try folder-sync on: nested folders, files of 0 bytes to 1 MiB\n' +
      '(some over 64 KiB), empty files and folders, names with spaces and non-ASCII letters, fixed mtimes.\n' +
      'Example: folder-sync demo demo/source --seed 7 && folder-sync sync-once demo/source demo/replica --log demo/folder-sync.log',
  },
  args: demoArgs,
  run({ args }): number {
    const seed = bounded(args.seed, '--seed', 0xffffffff);
    const files = bounded(args.files, '--files', 1_000_000);
    const folders = bounded(args.folders, '--folders', 100_000);
    const dir = resolve(args.dir ?? demoArgs.dir.default);
    const entries = planDemoTree({ ...DEMO_DEFAULTS, seed, files, folders });
    const s = writeDemoTree(dir, entries, seed);
    const links = s.symlinks ? ` and ${s.symlinks} symlink${s.symlinks === 1 ? '' : 's'}` : '';
    process.stdout.write(
      `demo: wrote ${s.files} files (${formatBytes(s.bytes)}; ${s.largeFiles} over 64 KiB, ${s.emptyFiles} empty), ` +
        `${s.folders} folders (${s.emptyFolders} empty)${links} to ${dir} (seed ${seed})\n`,
    );
    const next = siblings(args.dir ?? demoArgs.dir.default);
    process.stdout.write(
      `next: folder-sync sync-once ${quoteArg(args.dir ?? demoArgs.dir.default)} ${quoteArg(next.replica)} --log ${quoteArg(next.log)}\n`,
    );
    return 0;
  },
});

/** Quote a path for the shell line we print, only when it needs it. */
function quoteArg(text: string): string {
  return /^[\w./@%+=:,-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
