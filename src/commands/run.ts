import { defineCommand } from 'citty';
import { describeError, ExitCode, FolderSyncError } from '../errors.js';
import { ConsoleReporter, createLogger, oneLine, type FileReporter } from '../log.js';
import { logRefusal, openPassLog } from '../pass-log.js';
import { note, runForeground } from '../run/runner.js';
import { parseInterval } from '../schedule/interval.js';
import { checkFilterSpec } from '../sync/filter.js';
import { sayInPassOrder } from '../sync/pass-report.js';
import { checkPassPaths } from '../sync/path-guards.js';
import { folderArgs, intervalArgs, notifyArgs, outputArgs, parseCount, parseLogFormat, parseVersionsArgs, passArgs } from './_args.js';
import { checkVersionsDir } from '../versions/guards.js';
import { filterArgs, parseFilterArgs } from './_filter-args.js';

export const runArgs = {
  ...folderArgs,
  ...intervalArgs,
  'log-file': { type: 'positional', required: true, description: 'Append every event to this file (parent folders are created)' },
  ...passArgs,
  ...filterArgs,
  ...outputArgs,
  ...notifyArgs,
} as const;

export default defineCommand({
  meta: {
    name: 'run',
    description:
      'Stay in the foreground and mirror <source> into <replica> now, then every <interval> <unit> from the start\n' +
      'of the previous pass (an overrunning pass is followed at once, never two at once), until SIGINT or SIGTERM.\n' +
      'For hosts without cron (containers, WSL) and service managers (systemd, Docker); see docs/run.md.\n' +
      'Holds the replica lock while it lives: a scheduled sync-once on the same replica exits 75.\n' +
      'A pass with failures or a refused pass is logged and tried again next interval. SIGHUP reopens the log file.\n' +
      'Defaults: compare by size and mtime, text log, no limit on deletions, empty source refused.\n' +
      'Exit codes: 0 stopped by SIGINT/SIGTERM, 2 bad usage or paths that can never work, 75 replica busy.\n' +
      'Example: folder-sync run ~/Photos /mnt/backup/Photos 15 minutes ~/folder-sync.log',
  },
  args: runArgs,
  async run({ args, rawArgs }): Promise<number> {
    const interval = parseInterval(args.interval, args.unit);
    const maxDelete = parseCount(args['max-delete'], '--max-delete');
    const logFormat = parseLogFormat(args['log-format']);
    // Alerts (docs/alerts.md): a start ping before each pass, the end ping and hook after it.
    const notifyFlags = args['notify-url'] !== undefined || args['on-failure'] !== undefined || args['on-success'] !== undefined;
    const notify = notifyFlags ? await import('../notify/pass.js') : undefined;
    const notifier = notify?.runNotifier(args, args['log-file']);
    const paths = await (notify
      ? notify.notifyRefusal(notifier, () => checkPassPaths(args.source, args.replica, args['log-file']))
      : checkPassPaths(args.source, args.replica, args['log-file']));
    // Bad rules stop the run now (exit 2); an --exclude-from file is then read again by each pass.
    const { filter, deleteExcluded } = parseFilterArgs(rawArgs, runArgs, args);
    const checkedFilter = checkFilterSpec(filter, args.source);
    const versions = parseVersionsArgs(args); // issue 14
    if (versions) checkVersionsDir(versions.dir, paths); // a run that could never work does not start
    const logPath = paths.log as string;

    let broken = false;
    const file: FileReporter = openPassLog(logPath, logFormat, (reason) => {
      broken = true;
      process.stderr.write(`error: the log file ${oneLine(logPath)} can no longer be written: ${oneLine(reason)}; retrying before each pass\n`);
    });
    const console = new ConsoleReporter({ quiet: Boolean(args.quiet), verbose: Boolean(args.verbose) });
    const logger = createLogger([console, file, ...(notifier ? [notifier.observer] : [])]);

    const controller = new AbortController();
    const stop = (signal: NodeJS.Signals): void => {
      if (controller.signal.aborted) return;
      // After the lines still held for files finished before the signal (sayInPassOrder).
      sayInPassOrder(() => note(logger, 'info', `${signal} received: stopping after the current file`, { run: 'stopping', signal }));
      controller.abort(signal);
    };
    const reopen = (): void => {
      try {
        file.reopen();
        broken = false;
        note(logger, 'info', `log file reopened (SIGHUP): ${JSON.stringify(logPath)}`, { run: 'log-reopened' });
        file.flush();
      } catch (error) {
        process.stderr.write(`error: the log file ${oneLine(logPath)} cannot be reopened: ${oneLine(describeError(error))}\n`);
        broken = true;
      }
    };
    const handlers: [NodeJS.Signals, () => void][] = [
      ['SIGINT', () => stop('SIGINT')],
      ['SIGTERM', () => stop('SIGTERM')],
      ['SIGHUP', reopen],
    ];
    // A log that failed (disk full) is tried again before each pass rather than given up for the process's life.
    const retryLog = (): void => {
      file.flush(); // the start line (and anything since the last pass) is on disk before the pass begins
      if (!broken) return;
      try {
        file.reopen();
      } catch {
        return; // still failing; the console keeps everything
      }
      broken = false;
      // Said on the console only once the file took the line (a warning is written at once; a failure sets `broken`).
      const line = `log file writable again: ${JSON.stringify(logPath)} (lines in between are on the console only)`;
      note(createLogger([file]), 'warn', line);
      if (!broken) note(createLogger([console]), 'warn', line);
    };
    for (const [signal, handler] of handlers) process.on(signal, handler);
    try {
      await runForeground(args.source, args.replica, {
        interval,
        log: logPath,
        logger,
        signal: controller.signal,
        sync: {
          checksum: Boolean(args.checksum),
          maxDelete,
          allowEmptySource: Boolean(args['allow-empty-source']),
          filter: checkedFilter,
          deleteExcluded,
          versions,
        },
        beforePass: async () => {
          retryLog();
          await notifier?.start(logger);
        },
        // The file buffers lines for speed: a pass's lines reach the disk when it ends, not at the next 64 KiB.
        afterPass: async (outcome) => {
          file.flush();
          if (!notifier || !notify) return;
          await notifier.finish(notify.runPassEnd(outcome), logger);
          file.flush();
        },
      });
      return ExitCode.ok;
    } catch (error) {
      // Only startup can throw (busy replica, paths that can never work): the log file gets the same line.
      if (error instanceof FolderSyncError) {
        logRefusal(file, `run not started: ${error.message}`);
        await notifier?.finish({ exitCode: error.exitCode, message: `run not started: ${error.message}` }, createLogger([console, file]));
      }
      throw error;
    } finally {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      file.close();
    }
  },
});
