import { defineCommand } from 'citty';
import { ExitCode } from '../errors.js';
import { checkJobs, parseMaxAge } from '../notify/check.js';

export default defineCommand({
  meta: {
    name: 'check',
    description:
      'Exit 1 and name the jobs that have no successful pass (exit 0) within their allowed age: by default twice\n' +
      'the job interval (at least 2 minutes), or --max-age for every job. For your own monitoring script or timer.\n' +
      'A job never successful counts from when it was scheduled. See docs/alerts.md.\n' +
      'Exit codes: 0 every job is fine (or there are none), 1 some job is stale, 2 bad usage.\n' +
      'Example: folder-sync check --max-age 2h || mail -s "folder-sync is stale" me@example.com </dev/null',
  },
  args: {
    'max-age': {
      type: 'string',
      valueHint: 'age',
      description: 'Allowed age for every job: 90s, 30m, 2h, 1d, 1w (default: twice each job interval)',
    },
    json: { type: 'boolean', description: 'Print JSON: { ok, jobs: [{ name, ok, maxAgeSeconds, lastSuccess, ageSeconds, text }] }' },
  },
  async run({ args }): Promise<number> {
    const maxAgeSeconds = args['max-age'] === undefined ? undefined : parseMaxAge(String(args['max-age']));
    const jobs = await checkJobs({ ...(maxAgeSeconds !== undefined ? { maxAgeSeconds } : {}) });
    const ok = jobs.every((j) => j.ok);
    if (args.json) process.stdout.write(`${JSON.stringify({ ok, jobs }, null, 2)}\n`);
    else if (jobs.length === 0) process.stdout.write('no scheduled jobs\n');
    else for (const j of jobs) process.stdout.write(`${j.ok ? 'ok    ' : 'STALE '} ${j.text}\n`);
    return ok ? ExitCode.ok : ExitCode.partial;
  },
});
