import { defineCommand, type ParsedArgs } from 'citty';
import type { ConsolaReporter } from 'consola';
import { ExitCode, FolderSyncError } from '../errors.js';
import { createLogger, oneLine, type FileReporter } from '../log.js';
import { logRefusal, openPassLog, refusalLine } from '../pass-log.js';
import { consoleWithProgress, progressEvery, stderrProgress } from '../progress.js';
import { checkPassPaths } from '../sync/path-guards.js';
import { syncOnce } from '../sync/sync-once.js';
import type { PassHooks } from '../schedule/scheduled-run.js';
import { stateDir } from '../state.js';
import { folderArgs, notifyArgs, outputArgs, parseCount, parseLogFormat, parseVersionsArgs, passArgs } from './_args.js';
import { filterArgs, parseFilterArgs } from './_filter-args.js';

export const syncOnceArgs = {
  ...folderArgs,
  log: { type: 'string', valueHint: 'file', description: 'Append every event to this file (parent folders are created)' },
  ...passArgs,
  ...filterArgs,
  'dry-run': { type: 'boolean', description: 'Log what would be done, marked as a dry run; change nothing' },
  ...outputArgs,
  ...notifyArgs,
  // Written by `schedule` into the scheduler entry (src/schedule/scheduled-run.ts); hidden from --help (_help.ts).
  job: { type: 'string', hidden: true, description: '(scheduled runs) the job name: keep its last-pass record' },
  every: { type: 'string', hidden: true, description: '(scheduled runs) the job interval: skip when not due' },
  grid: { type: 'string', hidden: true, description: '(scheduled runs) how often the scheduler fires' },
} as const;

export default defineCommand({
  meta: {
    name: 'sync-once',
    description:
      'Run one mirror pass: make <replica> an exact copy of <source>, then exit.\n' +
      'Exit codes: 0 complete, 1 some entries failed, 2 bad usage or refused (nothing changed), 75 replica busy.\n' +
      'Example: folder-sync sync-once ~/Photos /mnt/backup/Photos --log ~/folder-sync.log',
  },
  args: syncOnceArgs,
  async run({ args, rawArgs }): Promise<number> {
    // Started by cron / Task Scheduler (hidden --job/--every/--grid): due-check, seconds loop and last-pass record.
    if (args.job !== undefined || args.every !== undefined || args.grid !== undefined) {
      const { runScheduled, scheduledRunFromArgs } = await import('../schedule/scheduled-run.js');
      const scheduled = scheduledRunFromArgs(args);
      if (scheduled) {
        // Alerts: the job's stored settings (docs/alerts.md), pinged and hooked around each pass attempt.
        const { scheduledAround, syncOnceNotifier } = await import('../notify/pass.js');
        const dir = stateDir();
        const notifier = syncOnceNotifier(args, { name: scheduled.job, dir });
        if (notifier) scheduled.around = scheduledAround(notifier, args, scheduled.job, dir);
        return runScheduled(scheduled, (hooks) => runPass(args, rawArgs, hooks, notifier?.observer));
      }
    }
    if (args['notify-url'] !== undefined || args['on-failure'] !== undefined || args['on-success'] !== undefined) {
      const { notifiedPass, syncOnceNotifier } = await import('../notify/pass.js');
      const notifier = syncOnceNotifier(args);
      if (notifier) return notifiedPass(notifier, args, () => runPass(args, rawArgs, undefined, notifier.observer));
    }
    return runPass(args, rawArgs);
  },
});

/**
 * One pass. With `hooks` (a scheduled run) the console stays silent, since the job's output is appended to the
 * log file, and a refusal written to the log is returned as an exit code rather than printed a second time.
 */
async function runPass(args: ParsedArgs<typeof syncOnceArgs>, rawArgs: string[], hooks?: PassHooks, observer?: ConsolaReporter): Promise<number> {
  const maxDelete = parseCount(args['max-delete'], '--max-delete');
  const logFormat = parseLogFormat(args['log-format']);
  const versions = parseVersionsArgs(args); // issue 14
  const paths = checkPassPaths(args.source, args.replica, args.log);

  // The live line on an interactive stderr: cleared before every other console line, never in the log.
  const progress = stderrProgress({ quiet: Boolean(args.quiet) });
  let file: FileReporter | undefined;
  if (paths.log) {
    const logPath = paths.log;
    file = openPassLog(logPath, logFormat, (reason) => {
      progress?.interrupt();
      process.stderr.write(`error: the log file ${oneLine(logPath)} can no longer be written: ${oneLine(reason)}\n`);
    });
  }
  const console = consoleWithProgress(progress, { quiet: Boolean(args.quiet), verbose: Boolean(args.verbose) });
  const logger = createLogger([...(file ? (hooks ? [file] : [console, file]) : [console]), ...(observer ? [observer] : [])]);
  try {
    const result = await syncOnce(paths.source, paths.replica, {
      checksum: Boolean(args.checksum),
      dryRun: Boolean(args['dry-run']),
      maxDelete,
      allowEmptySource: Boolean(args['allow-empty-source']),
      ...parseFilterArgs(rawArgs, syncOnceArgs, args),
      versions,
      logger,
      onProgress: progress && ((stats) => progress.update(stats)),
      progressEveryMs: progressEvery(process.env['FOLDER_SYNC_PROGRESS_EVERY_MS']),
    });
    hooks?.finished(result);
    // Flush before deciding the exit code: lines still buffered (the summary) may be the ones that fail.
    file?.flush();
    // A log that stopped being writable is reported even over per-entry failures: the record is incomplete.
    return file?.failure ? ExitCode.logFailed : result.exitCode;
  } catch (error) {
    // The console line comes from the CLI's error handler; the log file gets the same line.
    if (file && error instanceof FolderSyncError) {
      logRefusal(file, refusalLine(error));
      if (hooks) {
        hooks.failed(error);
        return error.exitCode;
      }
    }
    throw error;
  } finally {
    progress?.clear();
    file?.close();
  }
}
