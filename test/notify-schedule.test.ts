/**
 * Alerts of a scheduled job, as the unprivileged test user, with a stand-in crontab (the cron daemon must not fire
 * the job between our own runs): the settings live in a 0600 file in the state folder and never in the crontab
 * line; the line run the way cron runs it (`env -i`, /bin/sh) pings and runs the hook; `list` shows the last
 * notification, masked; `check` exit codes; unschedule removes the settings.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, userTempDir, type CliResult } from './_cli.js';
import { fakeCrontab, runLineAsCronAsync } from './_cron.js';
import { pingServer } from './_ping.js';
import { buildTree, compareTrees, giveToTestUser } from './_tree.js';

const server = await pingServer();
const state = userTempDir('fs-notify-state-');
const fake = fakeCrontab();
const cli = (args: string[]): Promise<CliResult> =>
  runCli(args, { asUser: true, env: { FOLDER_SYNC_STATE_DIR: state, ...fake.env }, timeoutMs: 30_000 });

describe.sequential('a scheduled job with alerts', () => {
  const token = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
  const url = `${server.origin}/ping/${token}`;
  const masked = `${server.origin}/…8f90`;
  const base = userTempDir();
  const src = join(base, 'src');
  const rep = join(base, 'rep');
  const log = join(base, 'logs', 'sync.log');
  const hookOut = join(base, 'hook.out');
  mkdirSync(src);
  buildTree(src, { 'a.txt': 'alpha' });
  giveToTestUser(base);
  const line = (): string =>
    fake
      .table()
      .split('\n')
      .find((l) => l.includes('# folder-sync:job=alerts')) ?? '';
  const pings = (): string[] => server.pings.filter((p) => p.path.includes(token)).map((p) => `${p.method} ${p.path.replace(token, 'T')}`);
  // Not spawnSync: this process's ping server must answer the job while it runs.
  const asCron = (): Promise<{ status: number | null; output: string }> => runLineAsCronAsync(line());
  const hook = `echo "exit $FOLDER_SYNC_EXIT_CODE job $FOLDER_SYNC_JOB" >> '${hookOut}'; echo hook says hello`;

  it('schedule stores the URL and hook in a 0600 file, prints them masked, and the crontab line holds neither', async () => {
    const r = await cli(['schedule', src, rep, '1', 'minute', log, '--name', 'alerts', '--notify-url', url, '--on-failure', hook]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`\nnotify: ${masked}, on-failure: echo …\n`);
    expect(r.stdout + r.stderr).not.toContain(token.slice(0, 12));
    expect(line()).toMatch(/ 'sync-once' .* --job 'alerts' --every 60 >>/);
    expect(line()).not.toContain(token.slice(0, 12));
    expect(line()).not.toContain('hook says hello');
    const settings = join(state, 'jobs', 'alerts.notify.json');
    expect(statSync(settings).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(settings, 'utf8'))).toEqual({ version: 1, url, onFailure: hook });
  });

  it('run as cron runs it: /start and success pinged, no output for cron, list shows the last notification', async () => {
    expect(await asCron()).toEqual({ status: 0, output: '' });
    expect(compareTrees(src, rep)).toEqual([]);
    expect(pings()).toEqual(['POST /ping/T/start', 'POST /ping/T']);
    const body = server.pings.filter((p) => p.path.includes(token))[1]?.body ?? '';
    expect(body).toMatch(/^folder-sync pass ok \(exit 0\) job alerts\n/);
    expect(readFileSync(log, 'utf8')).toMatch(new RegExp(`INFO notification sent to ${masked.replace(/[.]/g, '\\.')}: exit 0 \\(HTTP 200\\)\\n`));
    expect(existsSync(hookOut)).toBe(false); // on-failure only

    const text = (await cli(['list'])).stdout;
    expect(text).toContain(`  notify:         ${masked}, on-failure: echo …\n`);
    expect(text).toMatch(/\n {2}last notified: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d ok: ping exit 0: HTTP 200\n/);
    const json = (await cli(['list', '--json'])).stdout;
    const job = (JSON.parse(json) as { jobs: { name: string; notify: unknown; lastNotification: { ok: boolean } }[] }).jobs.find(
      (j) => j.name === 'alerts',
    );
    expect(job?.notify).toEqual({ url: masked, onFailure: 'echo …' });
    expect(job?.lastNotification.ok).toBe(true);
    for (const out of [text, json, readFileSync(log, 'utf8')]) expect(out).not.toContain(token.slice(0, 12));

    const c = await cli(['check']);
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/^ok +alerts: last successful pass \d+ seconds? ago \(allowed 2 minutes\)\n$/);
  });

  it('a refused pass run as cron: /2 pinged, the hook gets the job and exit code, its output in the log', async () => {
    rmSync(join(src, 'a.txt'));
    expect(await asCron()).toEqual({ status: 2, output: '' });
    expect(pings().slice(2)).toEqual(['POST /ping/T/start', 'POST /ping/T/2']);
    expect(readFileSync(hookOut, 'utf8')).toBe('exit 2 job alerts\n');
    const logText = readFileSync(log, 'utf8');
    expect(logText).toMatch(
      /ERROR pass refused: source .* is empty[^\n]*\n.* INFO notification sent to .*: exit 2 \(HTTP 200\)\n.* INFO hook on-failure: hook says hello\n/,
    );
    expect((await cli(['list'])).stdout).toMatch(/last notified: .* ok: ping exit 2: HTTP 200; on-failure hook: exit 0\n/);
  });

  it('check: exit 1 naming the job once its last success is older than allowed; --max-age widens it', async () => {
    const recordPath = join(state, 'jobs', 'alerts.json');
    const record = JSON.parse(readFileSync(recordPath, 'utf8')) as { lastSuccess: { startedAt: string } };
    record.lastSuccess.startedAt = new Date(Date.now() - 3 * 3600_000).toISOString();
    writeFileSync(recordPath, JSON.stringify(record)); // an old success, as if the job had been failing for 3 hours
    const stale = await cli(['check']);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toMatch(/^STALE +alerts: no successful pass for 3 hours \(allowed 2 minutes\); last pass refused: source .* is empty/);
    expect((await cli(['check', '--max-age', '4h'])).code).toBe(0);
    expect((await cli(['check', '--max-age', '2h'])).code).toBe(1);
    const bad = await cli(['check', '--max-age', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^folder-sync: --max-age needs a number and a unit/);
  });

  it('unschedule removes the settings file with the job', async () => {
    expect((await cli(['unschedule', 'alerts'])).code).toBe(0);
    expect(existsSync(join(state, 'jobs', 'alerts.notify.json'))).toBe(false);
    const c = await cli(['check']);
    expect([c.code, c.stdout]).toEqual([0, 'no scheduled jobs\n']);
  });
});
