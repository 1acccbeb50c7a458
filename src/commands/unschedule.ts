import { defineCommand } from 'citty';
import { UsageError } from '../errors.js';
import { unscheduleJobs } from '../schedule/scheduler.js';

export default defineCommand({
  meta: {
    name: 'unschedule',
    description:
      'Remove a scheduled job by name, or every folder-sync job with --all (nothing else in the crontab or\n' +
      'Task Scheduler is touched). The replica and the log stay as they are.\n' +
      'Exit codes: 0 removed, 1 no job of that name, 2 bad usage.\n' +
      'Example: folder-sync unschedule Photos',
  },
  args: {
    name: { type: 'positional', required: false, description: 'The job to remove (see folder-sync list)' },
    all: { type: 'boolean', description: 'Remove every folder-sync job' },
  },
  async run({ args }): Promise<number> {
    const name = args.name as string | undefined;
    if (name !== undefined && args.all) throw new UsageError('give a job name or --all, not both');
    if (name === undefined && !args.all) throw new UsageError('give the name of the job to remove, or --all (see folder-sync list)');
    const removed = await unscheduleJobs(args.all ? 'all' : [name as string]);
    if (removed.length === 0) process.stdout.write('no folder-sync jobs were scheduled\n');
    for (const n of removed) process.stdout.write(`removed job ${n}\n`);
    return 0;
  },
});
