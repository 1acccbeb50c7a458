/**
 * schedule / unschedule / list against the real `crontab` binary and the running cron daemon, always as the
 * unprivileged test user (root's table is never touched). One file, run in order: the user has one table.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { cronDaemonRunning } from '../src/schedule/crontab.js';
import { runCli, userTempDir, type CliResult } from './_cli.js';
import { fakeCrontab, runLineAsCron } from './_cron.js';
import { buildTree, compareTrees, giveToTestUser, isRoot, TEST_USER } from './_tree.js';

const asUser = (argv: string[], input?: string): { status: number | null; stdout: string; stderr: string } => {
  const cmd = isRoot ? ['runuser', '-u', TEST_USER, '--', ...argv] : argv;
  const r = spawnSync(cmd[0] as string, cmd.slice(1), { input, encoding: 'utf8', cwd: '/' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const crontabL = (): string => {
  const r = asUser(['crontab', '-l']);
  return r.status === 0 ? r.stdout : '';
};
const installTable = (text: string): void => {
  const r = asUser(['crontab', '-'], text);
  if (r.status !== 0) throw new Error(`crontab - failed: ${r.stderr}`);
};

// A state folder shared by every CLI run of this file, so the cron line's baked folder is the one list reads.
let state = '';
const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
  runCli(args, { asUser: true, env: { FOLDER_SYNC_STATE_DIR: state, ...env }, timeoutMs: 30_000 });

const FOREIGN = [
  "# the user's own table: comments, variables, odd spacing and % must survive byte for byte",
  'MAILTO=""',
  'SHELL=/bin/sh',
  '',
  '*/5 * * * *    true   # spaced   out',
  '@reboot printf "%s\\n" started >/dev/null',
  '0 3 * * 1-5\ttrue \\%d',
  '# folder-sync job fake: a comment that looks like ours but has no job line after it',
  '',
].join('\n');

let saved = '';
beforeAll(() => {
  saved = crontabL();
  // Not root: this is your own table; a copy is kept in case the run is killed before afterAll restores it.
  if (!isRoot) writeFileSync(join(tmpdir(), `folder-sync-test-crontab-backup-${process.pid}.txt`), saved);
  installTable(FOREIGN);
  state = userTempDir('fs-sched-state-');
});
afterAll(() => {
  if (saved === '') asUser(['crontab', '-'], '');
  else installTable(saved);
});

function folders(name = 'rep'): { base: string; src: string; rep: string; log: string } {
  const base = userTempDir();
  mkdirSync(join(base, 'src'));
  const src = buildTree(join(base, 'src'), { 'a.txt': 'alpha', sub: { 'b.txt': 'beta' } });
  giveToTestUser(base);
  return { base, src, rep: join(base, name), log: join(base, 'logs', 'sync.log') };
}

function ourLines(table: string): string[] {
  return table.split('\n').filter((l) => l.includes('# folder-sync:job='));
}

describe.sequential('crontab jobs', () => {
  it('a 1-minute job runs under the real cron daemon: awkward paths, the replica appears within two minutes, then unschedule', async () => {
    const f = folders("rep 'q' $HOME `x` 100% \\%d");
    const r = await cli(['schedule', f.src, f.rep, '1', 'minute', f.log, '--name', 'e2e']);
    onTestFinished(async () => void (await cli(['unschedule', '--all'])));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`scheduled job e2e: every minute: ${f.src} -> ${f.rep}, log ${f.log}\n`);
    expect(r.stdout).toMatch(/\nnext run: \d{4}-\d\d-\d\d \d\d:\d\d:00 [+-]\d\d:\d\d\n/);
    expect(crontabL().startsWith(FOREIGN)).toBe(true);
    const deadline = Date.now() + 130_000;
    // A later minute's pass may be running while the trees are compared (its capability probe is a folder that
    // comes and goes in the replica): a listing that changes under the comparison means "not yet", not a failure.
    const mirrored = (): boolean => {
      try {
        return existsSync(f.rep) && compareTrees(f.src, f.rep).length === 0 && readFileSync(f.log, 'utf8').includes('pass finished');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw error;
      }
    };
    while (!mirrored()) {
      expect(Date.now(), `no pass within two minutes; log: ${existsSync(f.log) ? readFileSync(f.log, 'utf8') : '(none)'}`).toBeLessThan(deadline);
      await new Promise((res) => setTimeout(res, 2000));
    }
    const log = readFileSync(f.log, 'utf8');
    expect(log).toMatch(/ INFO pass started: source .* replica ".*rep 'q' \$HOME `x` 100% \\\\%d"/);
    const lines = log.split('\n').filter(Boolean);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\S+ (INFO|WARN|ERROR) /); // only our own lines, nothing foreign
    expect(new Set(lines).size).toBe(lines.length); // nothing written twice
    const list = JSON.parse((await cli(['list', '--json'])).stdout) as {
      jobs: { name: string; lastPass?: { result: string; counts?: { created: number } } }[];
    };
    const job = list.jobs.find((j) => j.name === 'e2e');
    expect(job?.lastPass?.result).toBe('ok');
    expect(job?.lastPass?.counts?.created).toBe(4);
    const u = await cli(['unschedule', 'e2e']);
    expect([u.code, u.stdout]).toEqual([0, 'removed job e2e\n']);
    expect(crontabL()).toBe(FOREIGN);
  }, 180_000);

  it('schedule, replace by name, a second job, unschedule one, --all: the foreign lines stay byte for byte', async () => {
    const a = folders('Photos');
    const b = folders('Music');
    const r1 = await cli(['schedule', a.src, a.rep, '7', 'minutes', a.log, '--checksum', '--max-delete', '5']);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout).toMatch(/^scheduled job Photos: every 7 minutes: /);
    expect(r1.stdout).toContain(
      'crontab: * * * * * (finer than the interval; each run checks the pass is due, so passes stay exactly 7 minutes apart)',
    );
    const t1 = crontabL();
    expect(t1.startsWith(FOREIGN)).toBe(true);
    expect(ourLines(t1)).toHaveLength(1);
    expect(ourLines(t1)[0]).toContain('--every 420 --grid 60 --checksum --max-delete 5 >>');

    const r2 = await cli(['schedule', a.src, a.rep, '15', 'MINUTES', a.log]);
    expect(r2.stdout).toMatch(/^replaced job Photos: every 15 minutes: /);
    expect(r2.stdout).toContain('crontab: */15 * * * *\n');
    expect(ourLines(crontabL())).toHaveLength(1);

    const r3 = await cli(['schedule', b.src, b.rep, '2', 'hours', b.log, '--log-format', 'json']);
    expect(r3.stdout).toMatch(/^scheduled job Music: every 2 hours: /);
    // Same folder name, another replica: its own job, never a silent replacement of the first.
    const c = folders('Photos');
    const r4 = await cli(['schedule', c.src, c.rep, '1', 'day', c.log]);
    expect(r4.stdout).toMatch(/^scheduled job Photos-[0-9a-f]{6}: every day: /);
    const t2 = crontabL();
    expect(t2.startsWith(FOREIGN)).toBe(true);
    expect(ourLines(t2).map((l) => l.split(' ').slice(0, 5).join(' '))).toEqual(['*/15 * * * *', '0 */2 * * *', '0 0 * * *']);

    const list = JSON.parse((await cli(['list', '--json'])).stdout) as {
      jobs: { name: string; interval: string; source: string; replica: string; log: string; nextDue: string }[];
    };
    expect(list.jobs.map((j) => [j.name.replace(/-[0-9a-f]{6}$/, '-#'), j.interval])).toEqual([
      ['Photos', 'every 15 minutes'],
      ['Music', 'every 2 hours'],
      ['Photos-#', 'every day'],
    ]);
    expect(list.jobs[1]).toMatchObject({ source: b.src, replica: b.rep, log: b.log });
    expect(Date.parse(list.jobs[0]?.nextDue ?? '') % (15 * 60_000)).toBe(0);
    const text = (await cli(['list'])).stdout;
    expect(text).toMatch(/^Photos: every 15 minutes \(crontab \*\/15 \* \* \* \*\)\n {2}source: +\//m);
    expect(text).toContain('  last pass:      none yet\n');

    const unknown = await cli(['unschedule', 'Nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('folder-sync: no folder-sync job named "Nope" (see folder-sync list)\n');
    expect(crontabL()).toBe(t2);

    const u1 = await cli(['unschedule', 'Music']);
    expect([u1.code, u1.stdout]).toEqual([0, 'removed job Music\n']);
    expect(ourLines(crontabL())).toHaveLength(2);
    const all = await cli(['unschedule', '--all']);
    expect(all.code).toBe(0);
    expect(all.stdout.split('\n').filter(Boolean).sort()).toEqual(expect.arrayContaining(['removed job Photos']));
    expect(crontabL()).toBe(FOREIGN);
    const none = await cli(['unschedule', '--all']);
    expect([none.code, none.stdout]).toEqual([0, 'no folder-sync jobs were scheduled\n']);
  });

  it('four schedules at the same moment: every job ends up in the table (the edit is serialised)', async () => {
    const names = ['c1', 'c2', 'c3', 'c4'];
    const runs = await Promise.all(
      names.map((name) => {
        const f = folders(name);
        return cli(['schedule', f.src, f.rep, '1', 'day', f.log, '--name', name]);
      }),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const table = crontabL();
    expect(table.startsWith(FOREIGN)).toBe(true);
    expect(
      ourLines(table)
        .map((l) => l.slice(l.lastIndexOf('=') + 1))
        .sort(),
    ).toEqual(names);
    const all = await cli(['unschedule', '--all']);
    expect(all.code).toBe(0);
    expect(crontabL()).toBe(FOREIGN);
  });

  it('a crontab -l failure other than "no crontab" aborts without writing anything', async () => {
    const f = folders();
    const fake = join(f.base, 'fake-crontab');
    const marker = join(f.base, 'written');
    writeFileSync(
      fake,
      `#!/bin/sh\nif [ "$1" = "-l" ]; then echo "crontab: cannot open your crontab: Permission denied" >&2; exit 1; fi\ntouch '${marker}'\n`,
    );
    chmodSync(fake, 0o755);
    giveToTestUser(fake);
    const r = await cli(['schedule', f.src, f.rep, '5', 'minutes', f.log], { FOLDER_SYNC_CRONTAB: fake });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('folder-sync: cannot read the crontab (crontab -l): crontab: cannot open your crontab: Permission denied\n');
    expect(existsSync(marker)).toBe(false);
    expect(crontabL()).toBe(FOREIGN);
  });

  it('"no crontab for <user>" is an empty table', async () => {
    asUser(['crontab', '-r']); // the test user's own table, emptied to set up the case
    const f = folders();
    const r = await cli(['schedule', f.src, f.rep, '5', 'minutes', f.log, '--name', 'first']);
    expect(r.code, r.stderr).toBe(0);
    expect(ourLines(crontabL())).toHaveLength(1);
    await cli(['unschedule', '--all']);
    expect(crontabL()).toBe('');
    installTable(FOREIGN);
  });

  const refusals: [string, (f: ReturnType<typeof folders>) => string[], RegExp][] = [
    [
      'a unit that is not one',
      (f) => [f.src, f.rep, '5', 'fortnights', f.log],
      /^folder-sync: unit must be one of seconds, minutes, hours, days, weeks/,
    ],
    ['interval 0', (f) => [f.src, f.rep, '0', 'minutes', f.log], /^folder-sync: interval must be a positive whole number, got "0"/],
    ['interval 2.5', (f) => [f.src, f.rep, '2.5', 'hours', f.log], /positive whole number/],
    ['a missing interval', (f) => [f.src, f.rep, '5', f.log], /^folder-sync: (missing argument|unit must be)/],
    ['a bad --name', (f) => [f.src, f.rep, '5', 'minutes', f.log, '--name', 'a b'], /^folder-sync: job name must be 1 to 64 letters/],
    ['a name of *', (f) => [f.src, f.rep, '5', 'minutes', f.log, '--name', '*'], /job name/],
    ['a missing source', (f) => [join(f.base, 'nope'), f.rep, '5', 'minutes', f.log], /^folder-sync: source folder does not exist/],
    ['a replica inside the source', (f) => [f.src, join(f.src, 'r'), '5', 'minutes', f.log], /is inside the source/],
    ['a log inside the replica', (f) => [f.src, f.rep, '5', 'minutes', join(f.rep, 'x.log')], /log file .* is inside the replica/],
    [
      'a source path with a newline',
      (f) => {
        mkdirSync(join(f.base, 'new\nline'));
        giveToTestUser(join(f.base, 'new\nline'));
        return [join(f.base, 'new\nline'), f.rep, '5', 'minutes', f.log];
      },
      /line break, which cannot be written into a scheduler entry: ".*new\\nline"/,
    ],
    ['an unknown flag', (f) => [f.src, f.rep, '5', 'minutes', f.log, '--every', '3'], /unknown option "--every"/],
  ];
  for (const [label, args, message] of refusals) {
    it(`schedule refuses ${label}: exit 2, one line, crontab unchanged`, async () => {
      const f = folders();
      const r = await cli(['schedule', ...args(f)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.split('\n').filter((l) => l && !l.startsWith('Run "folder-sync --help"'))).toHaveLength(1);
      expect(r.stdout).toBe('');
      expect(crontabL()).toBe(FOREIGN);
    });
  }

  it('unschedule needs exactly one of a name or --all', async () => {
    for (const args of [['unschedule'], ['unschedule', 'x', '--all']]) {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^folder-sync: give /);
    }
  });

  it('list warns when a job is overdue and shows a foreground run holding a replica', async () => {
    const f = folders();
    const fake = fakeCrontab(); // the cron daemon must not run the job and refresh its record meanwhile
    const r = await cli(['schedule', f.src, f.rep, '7', 'minutes', f.log, '--name', 'late'], fake.env);
    expect(r.code, r.stderr).toBe(0);
    // The job's record says its last completed pass was an hour ago (cron stopped, machine asleep...).
    const recordFile = join(state, 'jobs', 'late.json');
    const record = JSON.parse(readFileSync(recordFile, 'utf8')) as Record<string, unknown>;
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const pass = {
      startedAt: hourAgo,
      finishedAt: hourAgo,
      result: 'ok',
      exitCode: 0,
      pid: 1,
      counts: { created: 1, updated: 0, removed: 0, failed: 0, skipped: 0, bytes: 5 },
    };
    writeFileSync(recordFile, JSON.stringify({ ...record, last: pass, lastCompleted: pass }));
    const text = (await cli(['list'], fake.env)).stdout;
    expect(text).toMatch(/^late: every 7 minutes/m);
    expect(text).toMatch(/ {2}warning: overdue: no completed pass for 60 minutes \(scheduled every 7 minutes\)/);

    // A foreground `run` (issue 7) holds another replica's lock: list shows it.
    const other = join(f.base, 'other');
    mkdirSync(other);
    giveToTestUser(other);
    const lockModule = join(dirname(inject('asUserCli')), 'sync', 'lock.js');
    const script =
      `const { ReplicaLock } = await import(${JSON.stringify(lockModule)});` +
      `new ReplicaLock(${JSON.stringify(other)}, 'run', ${JSON.stringify(state)}, { source: ${JSON.stringify(f.src)} }).acquire();` +
      // Ends when its stdin closes (runuser would not pass a kill on), or after two minutes at the most.
      `process.stdout.write('held\\n'); process.stdin.resume().on('end', () => process.exit(0)); setTimeout(() => process.exit(0), 120000);`;
    const argv = [process.execPath, '--input-type=module', '-e', script];
    const holder = spawn(isRoot ? 'runuser' : (argv[0] as string), isRoot ? ['-u', TEST_USER, '--', ...argv] : argv.slice(1), {
      stdio: ['pipe', 'pipe', 'inherit'],
      cwd: '/',
    });
    onTestFinished(() => void holder.stdin?.end());
    await new Promise<void>((resolve) => holder.stdout?.on('data', (d: Buffer) => d.toString().includes('held') && resolve()));
    const json = JSON.parse((await cli(['list', '--json'], fake.env)).stdout) as { foreground: { replica: string; source?: string; pid: number }[] };
    expect(json.foreground).toEqual([expect.objectContaining({ replica: other, source: f.src })]);
    expect((await cli(['list'], fake.env)).stdout).toMatch(/foreground runs \(folder-sync run\):\n {2}pid \d+ since .*: .* -> .*other/);
  });

  it('--help of each command shows its arguments, units, defaults and an example', async () => {
    const s = await cli(['schedule', '--help']);
    expect(s.code).toBe(0);
    for (const word of [
      '<interval>',
      '<unit>',
      'seconds, minutes, hours, days or weeks',
      'Defaults:',
      'Example: folder-sync schedule',
      '--name',
      '--log-format',
    ]) {
      expect(s.stdout + s.stderr).toContain(word);
    }
    expect((await cli(['unschedule', '--help'])).stdout).toContain('Example: folder-sync unschedule');
    expect((await cli(['list', '--help'])).stdout).toContain('Example: folder-sync list --json');
  });
});

describe.sequential('the installed line, run the way cron runs it', () => {
  // The table lives in a stand-in crontab here: the daemon must not fire these jobs between our own runs.
  const fake = fakeCrontab();
  async function install(f: ReturnType<typeof folders>, extra: string[] = [], n = '7', unit = 'minutes'): Promise<string> {
    const r = await cli(['schedule', f.src, f.rep, n, unit, f.log, '--name', 'ascron', ...extra], fake.env);
    expect(r.code, r.stderr).toBe(0);
    const [line] = ourLines(fake.table());
    return line as string;
  }

  it('syncs and logs each line once; a firing that is not due does nothing at all', async () => {
    const f = folders('rep with space');
    const line = await install(f);
    const run1 = runLineAsCron(line);
    expect(run1).toEqual({ status: 0, output: '' }); // nothing for cron to mail: everything is in the log
    expect(compareTrees(f.src, f.rep)).toEqual([]);
    const log1 = readFileSync(f.log, 'utf8');
    expect(log1.match(/pass started/g)).toHaveLength(1);
    expect(log1.match(/pass finished: created 4,/g)).toHaveLength(1);
    const lines1 = log1.split('\n').filter(Boolean);
    expect(new Set(lines1).size).toBe(lines1.length);

    const run2 = runLineAsCron(line); // a minute later by cron's clock: 7 minutes have not passed
    expect(run2).toEqual({ status: 0, output: '' });
    expect(readFileSync(f.log, 'utf8')).toBe(log1);
    const list = JSON.parse((await cli(['list', '--json'], fake.env)).stdout) as {
      jobs: { name: string; lastPass: { result: string }; nextDue: string }[];
    };
    const job = list.jobs.find((j) => j.name === 'ascron');
    expect(job?.lastPass.result).toBe('ok');
    expect(Date.parse(job?.nextDue ?? '') - Date.now()).toBeGreaterThan(5 * 60_000);
  });

  it('a refused pass (source gone) is one log line, recorded, and nothing on the console twice', async () => {
    const f = folders();
    const line = await install(f, [], '1', 'minute');
    rmSync(f.src, { recursive: true });
    const r = runLineAsCron(line);
    expect(r).toEqual({ status: 2, output: '' });
    const log = readFileSync(f.log, 'utf8').trimEnd().split('\n');
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(/^\S+ ERROR pass refused: source folder does not exist: /);
    const text = (await cli(['list'], fake.env)).stdout;
    expect(text).toMatch(/last pass: +\S+ \S+ \S+ refused: source folder does not exist/);
    expect(text).toMatch(/warning: last pass refused: source folder does not exist/);
  });

  it('output from outside folder-sync (Node cannot find the CLI) still lands in the log', async () => {
    const f = folders();
    const line = await install(f, [], '1', 'minute');
    const broken = line.replace(/'[^']*\/cli\.js'/, `'${f.base}/gone/cli.js'`);
    expect(broken).not.toBe(line);
    expect(runLineAsCron(broken)).toEqual({ status: 1, output: '' });
    expect(readFileSync(f.log, 'utf8')).toMatch(/Cannot find module '.*gone\/cli\.js'/);
  });

  it('--log-format json: every line of the log is a JSON object, foreign output included', async () => {
    const f = folders();
    const line = await install(f, ['--log-format', 'json'], '1', 'minute');
    expect(runLineAsCron(line)).toEqual({ status: 0, output: '' });
    rmSync(f.src, { recursive: true }); // a refusal
    expect(runLineAsCron(line).output).toBe('');
    expect(runLineAsCron(line.replace(/'[^']*\/cli\.js'/, `'${f.base}/gone/cli.js'`)).output).toBe(''); // Node cannot start it
    const lines = readFileSync(f.log, 'utf8').trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(5);
    const records = lines.map((l) => JSON.parse(l) as { type: string; level: string; message: string });
    expect(records.filter((r) => r.message.startsWith('pass refused: source folder does not exist'))).toHaveLength(1);
    const foreign = records.filter((r) => r.type === 'foreign');
    expect(foreign.length).toBeGreaterThan(0);
    expect(foreign.some((r) => /Cannot find module '.*gone\/cli\.js'/.test(r.message))).toBe(true);
  });

  // issue 14
  it('--versions: the job keeps the flags, a cron run keeps what it removes, list shows the versions folder and its size', async () => {
    const f = folders('rep-v');
    const v = join(f.base, 'rep-v.versions');
    const line = await install(f, ['--versions', v, '--keep-days', '30'], '1', 'minute');
    expect(line).toContain(`--versions '${v}' --keep-days 30`);
    expect(runLineAsCron(line)).toEqual({ status: 0, output: '' });
    rmSync(join(f.src, 'a.txt'));
    expect(runLineAsCron(line)).toEqual({ status: 0, output: '' });
    expect(compareTrees(f.src, f.rep)).toEqual([]);
    const kept = /removed file "a\.txt" \(kept in versions (\S+)\)/.exec(readFileSync(f.log, 'utf8'))?.[1];
    expect(kept).toBeDefined();
    expect(readFileSync(join(v, kept as string, 'a.txt'), 'utf8')).toBe('alpha');
    const list = JSON.parse((await cli(['list', '--json'], fake.env)).stdout) as { jobs: { name: string; versions?: unknown }[] };
    expect(list.jobs.find((j) => j.name === 'ascron')?.versions).toEqual({ dir: v, keepDays: 30, size: { passes: 1, entries: 1, bytes: 5 } });
    const text = (await cli(['list'], fake.env)).stdout;
    expect(text).toContain(`  versions:       ${v} (keep 30 days; 1 pass folder, 1 entries, 5 B)`);
  });

  it('15 seconds: one cron firing runs the passes of its minute at 15 s spacing, then exits', async () => {
    const f = folders();
    const line = await install(f, [], '15', 'seconds');
    expect(line.startsWith('* * * * * ')).toBe(true);
    // The run does the slots left in its minute and exits before the minute ends; with under 20 s left,
    // wait for the next minute so that at least two passes (one spacing) are seen.
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 20_000) await new Promise((res) => setTimeout(res, left + 300));
    const started = Date.now();
    const minuteEnd = Math.floor(started / 60_000) * 60_000 + 60_000;
    expect(runLineAsCron(line)).toEqual({ status: 0, output: '' });
    const starts = readFileSync(f.log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('pass started'))
      .map((l) => Date.parse(l.split(' ')[0] as string));
    // The slot running when the job starts is run at once; each later one in its own 15 s slot, none skipped,
    // none twice, none in the next minute (that is the next firing's). Slots, not milliseconds: how late in
    // its slot a pass starts depends on the machine's load (the exact timing is schedule-due.test.ts's).
    const slotsLeft = Math.ceil((minuteEnd - started) / 15_000);
    expect(starts.length).toBeGreaterThanOrEqual(Math.max(2, slotsLeft - 1));
    expect(starts.length).toBeLessThanOrEqual(4);
    const slots = starts.map((t) => Math.floor(t / 15_000));
    for (let i = 1; i < slots.length; i++) expect(slots[i]).toBe((slots[i - 1] as number) + 1);
    for (const t of starts) expect(t).toBeLessThan(minuteEnd);
  }, 90_000);
});

describe('list warnings', () => {
  it('cronDaemonRunning reads /proc: true with cron or busybox crond, false without', () => {
    const proc = userTempDir('fs-proc-');
    const add = (pid: number, comm: string, cmdline = comm): void => {
      mkdirSync(join(proc, String(pid)));
      writeFileSync(join(proc, String(pid), 'comm'), `${comm}\n`);
      writeFileSync(join(proc, String(pid), 'cmdline'), `${cmdline}\0`);
    };
    add(1, 'init');
    add(20, 'bash');
    expect(cronDaemonRunning(proc)).toBe(false);
    add(30, 'busybox', 'busybox\0crond');
    expect(cronDaemonRunning(proc)).toBe(true);
    rmSync(join(proc, '30'), { recursive: true });
    add(40, 'cron');
    expect(cronDaemonRunning(proc)).toBe(true);
    expect(cronDaemonRunning()).toBe(true); // npm test's setup starts the daemon
  });
});
