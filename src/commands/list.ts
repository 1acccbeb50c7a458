import { defineCommand } from 'citty';
import { formatList, listJobs } from '../schedule/status.js';

export default defineCommand({
  meta: {
    name: 'list',
    description:
      'Show the scheduled jobs: interval, source, replica, log, last pass (time, result, counts), next run,\n' +
      'and warnings (overdue: no completed pass for over twice the interval; no cron daemon running).\n' +
      'Foreground `folder-sync run` processes are shown too. --json prints one JSON object for scripts.\n' +
      'Example: folder-sync list --json',
  },
  args: {
    json: { type: 'boolean', description: 'Print JSON: { jobs: [...], foreground: [...], warnings: [...] }' },
  },
  async run({ args }): Promise<number> {
    const result = await listJobs();
    process.stdout.write(args.json ? `${JSON.stringify(result, null, 2)}\n` : formatList(result));
    return 0;
  },
});
