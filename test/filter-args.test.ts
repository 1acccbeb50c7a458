/**
 * The exclude flags on a command line (repeatable, in order, citty keeping only the last) and in a scheduled
 * job's line (written and read back, through the crontab line's quoting).
 */
import { describe, expect, it } from 'vitest';
import { filterArgs, parseFilterArgs } from '../src/commands/_filter-args.js';
import { syncOnceArgs } from '../src/commands/sync-once.js';
import { buildCronLine, findCronJobs } from '../src/schedule/cron.js';
import { describeJobFilter, jobFilterArgs, parseJobFilterArgs } from '../src/schedule/job-filter.js';
import { intervalFromSeconds } from '../src/schedule/interval.js';
import { jobPassArgs, parseJobPassArgs, type JobSpec } from '../src/schedule/jobs.js';

describe('parseFilterArgs', () => {
  it('keeps every --exclude and --exclude-from, in the order given, in both spellings', () => {
    const raw = ['src', 'rep', '--exclude', '*.tmp', '--exclude-from', 'list', '--exclude=!keep.tmp', '--exclude-from=/abs'];
    expect(parseFilterArgs(raw, syncOnceArgs, {}).filter.rules).toEqual([
      { exclude: '*.tmp' },
      { excludeFrom: 'list' },
      { exclude: '!keep.tmp' },
      { excludeFrom: '/abs' },
    ]);
  });

  it('a value that looks like a flag is a value; other flags and their values are skipped', () => {
    const raw = ['--log', '--exclude', '--exclude', '-x', '--max-delete', '3', '--ignore-file', '.gitignore', 's', 'r', '--', '--exclude', 'no'];
    const { filter } = parseFilterArgs(raw, syncOnceArgs, {});
    expect(filter).toEqual({ rules: [{ exclude: '-x' }], ignoreFiles: ['.gitignore'] });
  });

  it('repeated names, and the two booleans', () => {
    const raw = ['--exclude-if-present', '.nobackup', '--exclude-if-present=CACHEDIR.TAG', '--ignore-file', '.a', '--ignore-file', '.b'];
    expect(parseFilterArgs(raw, syncOnceArgs, { 'ignore-case': true, 'delete-excluded': true })).toEqual({
      filter: { excludeIfPresent: ['.nobackup', 'CACHEDIR.TAG'], ignoreFiles: ['.a', '.b'], ignoreCase: true },
      deleteExcluded: true,
    });
  });

  it('no flags: an empty spec', () => {
    expect(parseFilterArgs(['a', 'b'], filterArgs, {})).toEqual({ filter: {}, deleteExcluded: false });
  });
});

describe('a job keeps its filter', () => {
  const job: JobSpec = {
    name: 'home',
    source: '/home/me',
    replica: '/mnt/backup/home',
    log: '/home/me/fs.log',
    interval: intervalFromSeconds(3600),
    checksum: false,
    allowEmptySource: false,
    logFormat: 'text',
    filter: {
      rules: [{ exclude: '-odd name' }, { excludeFrom: '/home/me/.config/x 100%.exclude' }, { exclude: "!it's.tmp" }, { exclude: 'a b ' }],
      ignoreFiles: ['.gitignore'],
      excludeIfPresent: ['.nobackup', 'CACHEDIR.TAG'],
      ignoreCase: true,
    },
    deleteExcluded: true,
  };

  it('as flags of its sync-once, one word each, read back the same', () => {
    const args = jobPassArgs(job, { every: 3600 });
    expect(args).toEqual(expect.arrayContaining(['--exclude=-odd name', '--ignore-case', '--delete-excluded']));
    const back = parseJobPassArgs(args);
    expect({ filter: back?.filter, deleteExcluded: back?.deleteExcluded }).toEqual({ filter: job.filter, deleteExcluded: true });
  });

  it('through a crontab line and back', () => {
    const inv = { node: '/usr/bin/node', cli: '/opt/folder-sync/dist/cli.js', stateDir: '/home/me/.local/state/folder-sync' };
    const line = buildCronLine(job.name, '0 * * * *', inv, jobPassArgs(job, { every: 3600 }), job.log);
    const [found] = findCronJobs(`${line}\n`);
    expect(parseJobPassArgs(found?.argv ?? [])?.filter).toEqual(job.filter);
  });

  it('no filter: no words, nothing read back, nothing to show', () => {
    const plain: JobSpec = { ...job, filter: undefined, deleteExcluded: undefined };
    expect(jobFilterArgs(plain)).toEqual([]);
    expect(parseJobFilterArgs(jobPassArgs(plain, { every: 3600 }))).toEqual({});
    expect(describeJobFilter(plain)).toBeUndefined();
  });

  it('list shows the flags as they could be typed again', () => {
    expect(describeJobFilter(job)).toBe(
      "--exclude '-odd name' --exclude-from '/home/me/.config/x 100%.exclude' --exclude '!it'\\''s.tmp' --exclude 'a b ' " +
        '--ignore-file .gitignore --exclude-if-present .nobackup --exclude-if-present CACHEDIR.TAG --ignore-case --delete-excluded',
    );
  });
});
