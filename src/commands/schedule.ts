import { defineCommand } from 'citty';
import { parseInterval } from '../schedule/interval.js';
import { describeJobFilter } from '../schedule/job-filter.js';
import { scheduleJob } from '../schedule/scheduler.js';
import { formatTime } from '../schedule/status.js';
import { describeNotify, notifySettingsFromArgs, writeJobNotify } from '../notify/settings.js';
import { stateDir } from '../state.js';
import { folderArgs, intervalArgs, notifyArgs, parseCount, parseLogFormat, parseVersionsArgs, passArgs } from './_args.js';
import { filterArgs, parseFilterArgs } from './_filter-args.js';

export const scheduleArgs = {
  ...folderArgs,
  ...intervalArgs,
  'log-file': { type: 'positional', required: true, description: 'Every pass appends its events to this file (created now)' },
  name: {
    type: 'string',
    valueHint: 'name',
    description: 'Job name (letters, digits, - and _); default: the replica folder name. An existing name is replaced',
  },
  ...passArgs,
  ...filterArgs,
  ...notifyArgs,
} as const;

export default defineCommand({
  meta: {
    name: 'schedule',
    description:
      'Register a periodic pass with the OS scheduler (crontab on Linux and macOS, Task Scheduler on Windows)\n' +
      'and exit; the scheduler runs `sync-once` every <interval> <unit>, exactly (see docs/scheduling.md).\n' +
      'The pass guards run now, so a job that could never work is not installed. Paths are stored absolute.\n' +
      'Defaults: name from the replica folder, compare by size and mtime, text log, empty source refused.\n' +
      'Example: folder-sync schedule ~/Photos /mnt/backup/Photos 15 minutes ~/folder-sync.log',
  },
  args: scheduleArgs,
  async run({ args, rawArgs }): Promise<number> {
    const interval = parseInterval(args.interval, args.unit);
    const notify = notifySettingsFromArgs(args);
    const outcome = await scheduleJob({
      source: args.source,
      replica: args.replica,
      log: args['log-file'],
      interval,
      name: args.name,
      checksum: Boolean(args.checksum),
      maxDelete: parseCount(args['max-delete'], '--max-delete'),
      allowEmptySource: Boolean(args['allow-empty-source']),
      logFormat: parseLogFormat(args['log-format']),
      ...parseFilterArgs(rawArgs, scheduleArgs, args),
      versions: parseVersionsArgs(args), // issue 14
    });
    const { job } = outcome;
    // Alerts: kept in the state folder (0600), not in the scheduler's entry, which names only the job.
    writeJobNotify(job.name, notify, stateDir());
    const verb = outcome.replaced ? 'replaced' : 'scheduled';
    const apart = job.interval.words.replace(/^every /, '');
    const how = outcome.exact
      ? ''
      : job.interval.seconds % 60 !== 0
        ? ` (fires every minute; each run makes the passes of its minute, ${apart} apart)`
        : ` (finer than the interval; each run checks the pass is due, so passes stay exactly ${apart} apart)`;
    process.stdout.write(
      `${verb} job ${job.name}: ${job.interval.words}: ${job.source} -> ${job.replica}, log ${job.log}\n` +
        `${outcome.backend}: ${outcome.timing}${how}\n` +
        (describeJobFilter(job) !== undefined ? `filters: ${describeJobFilter(job)}\n` : '') +
        (outcome.nextRun !== undefined ? `next run: ${formatTime(outcome.nextRun)}\n` : '') +
        (notify ? `notify: ${describeNotify(notify)}\n` : ''),
    );
    return 0;
  },
});
