#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { defineCommand, runCommand, type CommandDef } from 'citty';
import { checkArgs } from './commands/_args.js';
import { renderHelp } from './commands/_help.js';
import { ExitCode, FolderSyncError, UsageError } from './errors.js';
import { keepYoungGenerationSmall } from './heap.js';
import { oneLine } from './log.js';
import { allowChdirListing } from './sync/entry.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command has its own args type; citty's own SubCommandsDef uses any here
type Loader = () => Promise<CommandDef<any>>;
/** Subcommands load lazily, so a sync pass never loads the scheduler code. */
const commands: Record<string, Loader> = {
  'sync-once': () => import('./commands/sync-once.js').then((m) => m.default),
  run: () => import('./commands/run.js').then((m) => m.default),
  schedule: () => import('./commands/schedule.js').then((m) => m.default),
  unschedule: () => import('./commands/unschedule.js').then((m) => m.default),
  list: () => import('./commands/list.js').then((m) => m.default),
  check: () => import('./commands/check.js').then((m) => m.default),
  demo: () => import('./commands/demo.js').then((m) => m.default),
  // issue 14: versions folder
  versions: () => import('./commands/versions.js').then((m) => m.default),
  restore: () => import('./commands/restore.js').then((m) => m.default),
};

/** One line per command for the root --help, in this order; only registered commands are shown. */
const synopsis: [name: string, usage: string, what: string][] = [
  ['sync-once', '<source> <replica> [--log <file>]', 'run one mirror pass now, then exit'],
  ['schedule', '<source> <replica> <interval> <unit> <log-file>', 'register a periodic pass with cron or Task Scheduler'],
  ['unschedule', '[<name>] [--all]', 'remove scheduled jobs'],
  ['list', '[--json]', 'show scheduled jobs, their last pass and next run'],
  ['check', '[--max-age <age>]', 'exit 1 naming the jobs with no successful pass within their allowed age'],
  ['run', '<source> <replica> <interval> <unit> <log-file>', 'run passes in the foreground (hosts without cron)'],
  ['demo', '[dir] [--seed <n>]', 'write a seeded demo folder tree to try the others on'],
  // issue 14: versions folder
  ['versions', '<versions-dir> [<path>]', 'show what a versions folder keeps, or the kept versions of one path'],
  ['restore', '<versions-dir> <path> <target> [--at <time>]', 'copy a kept version back out of a versions folder'],
];

function rootHelp(): string {
  const known = new Set(synopsis.map(([name]) => name));
  const rows = [
    ...synopsis.filter(([name]) => Object.hasOwn(commands, name)),
    ...Object.keys(commands)
      .filter((name) => !known.has(name))
      .map((name): [string, string, string] => [name, '...', `see folder-sync ${name} --help`]),
  ];
  return [
    `folder-sync ${version}: keep a replica folder an exact one-way copy of a source folder.`,
    '',
    'Usage: folder-sync <command> <arguments> [options]',
    '',
    'Commands:',
    ...rows.flatMap(([name, usage, what]) => [`  ${name} ${usage}`, `      ${what}`]),
    '',
    'Options: --help (also after any command: its arguments, defaults and an example), --version',
    'Units of <interval>: seconds, minutes, hours, days, weeks.',
    'Exit codes: 0 complete, 1 some entries failed, 2 bad usage or refused (nothing changed),',
    '            74 the log file could not be written, 75 another pass holds the replica.',
    '',
    'Example:',
    '  folder-sync sync-once ~/Documents /mnt/backup/Documents --log ~/folder-sync.log',
    '',
  ].join('\n');
}

const main = defineCommand({
  meta: {
    name: 'folder-sync',
    version,
    description: 'Keep a replica folder an exact one-way copy of a source folder.',
  },
  subCommands: commands,
});

/** Runs the CLI and returns the exit code; never lets a stack trace reach the user unless --verbose. */
export async function runCli(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  try {
    const first = argv[0];
    if (first === undefined) {
      process.stderr.write(rootHelp());
      return ExitCode.usage;
    }
    if (first === '--version' || first === '-v') {
      process.stdout.write(`${version}\n`);
      return ExitCode.ok;
    }
    if (first === '--help' || first === '-h') {
      process.stdout.write(rootHelp());
      return ExitCode.ok;
    }
    const load = Object.hasOwn(commands, first) ? commands[first] : undefined;
    if (!load) {
      throw new UsageError(
        first.startsWith('-')
          ? `unknown option ${JSON.stringify(first)} (see folder-sync --help)`
          : `unknown command ${JSON.stringify(first)} (commands: ${Object.keys(commands).join(', ')})`,
      );
    }
    const rest = argv.slice(1);
    const dashdash = rest.indexOf('--');
    const flags = dashdash >= 0 ? rest.slice(0, dashdash) : rest;
    if ((first === 'sync-once' || first === 'run') && flags.some((f) => f === '--checksum' || f.startsWith('--checksum='))) warmCompareHelper();
    const cmd = await load();
    if (flags.includes('--help') || flags.includes('-h')) {
      process.stdout.write(await renderHelp(cmd, main));
      return ExitCode.ok;
    }
    checkArgs(rest, (cmd.args ?? {}) as never);
    const { result } = await runCommand(cmd, { rawArgs: rest });
    return typeof result === 'number' ? result : ExitCode.ok;
  } catch (error) {
    return reportError(error, verbose);
  }
}

/**
 * issue 16: a --checksum pass's compare helper thread is started first thing, so its ~40 ms start (an isolate,
 * its modules, the hash) runs on the second core while this thread loads the CLI, instead of after the pass's
 * first batch has begun. Nothing else happens early: a refused or mistyped pass leaves an idle thread that never
 * keeps the process alive (compare-files.ts).
 */
function warmCompareHelper(): void {
  import('./sync/compare-files.js').then(
    (m) => m.startCompareHelper(),
    () => undefined,
  );
}

function reportError(error: unknown, verbose: boolean): number {
  if (error instanceof FolderSyncError) {
    // One line, whatever the message quotes (a path may hold a newline).
    const hint = error instanceof UsageError && !error.message.includes('--help') ? ' (see "folder-sync --help")' : '';
    process.stderr.write(`folder-sync: ${oneLine(error.message)}${hint}\n`);
    if (verbose && error.stack) process.stderr.write(`${error.stack}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`folder-sync: unexpected error: ${oneLine(message)}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return ExitCode.partial;
}

// The CLI alone lists folders from inside them (faster; why only the CLI: see allowChdirListing).
allowChdirListing();
keepYoungGenerationSmall(); // process-wide V8 flag: the CLI's choice, not the library's (src/heap.ts)
process.exitCode = await runCli(process.argv.slice(2));
