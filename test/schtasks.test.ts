import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { parseInterval } from '../src/schedule/interval.js';
import { jobPassArgs, parseJobPassArgs, type JobSpec } from '../src/schedule/jobs.js';
import {
  buildCreateArgs,
  buildDeleteArgs,
  buildWrapperCmd,
  buildWrapperVbs,
  cmdQuote,
  createSchtasksBackend,
  ourTasks,
  parseCsv,
  parseWrapperCmd,
  QUERY_ARGS,
  schtasksTiming,
  type SchtasksRunner,
  taskName,
  taskRun,
  TR_MAX,
} from '../src/schedule/schtasks.js';
import { scheduleJob, unscheduleJobs } from '../src/schedule/scheduler.js';
import { listJobs } from '../src/schedule/status.js';

describe('schtasksTiming', () => {
  const cases: [string, string, string, number, boolean, number | undefined][] = [
    // interval, unit, /SC, /MO, exact, --grid
    ['15', 'seconds', 'MINUTE', 1, false, undefined],
    ['90', 'seconds', 'MINUTE', 1, false, undefined],
    ['1', 'minute', 'MINUTE', 1, true, undefined],
    ['7', 'minutes', 'MINUTE', 7, true, undefined],
    ['90', 'minutes', 'MINUTE', 90, true, undefined],
    ['1439', 'minutes', 'MINUTE', 1439, true, undefined],
    ['2', 'hours', 'HOURLY', 2, true, undefined],
    ['23', 'hours', 'HOURLY', 23, true, undefined],
    ['1', 'day', 'DAILY', 1, true, undefined],
    ['3', 'days', 'DAILY', 3, true, undefined],
    ['365', 'days', 'DAILY', 365, true, undefined],
    ['1', 'week', 'WEEKLY', 1, true, undefined],
    ['52', 'weeks', 'WEEKLY', 52, true, undefined],
    ['25', 'hours', 'MINUTE', 750, false, 45000],
    ['36', 'hours', 'HOURLY', 18, false, 64800],
    ['366', 'days', 'DAILY', 183, false, 15811200],
  ];
  for (const [n, unit, sc, mo, exact, grid] of cases) {
    it(`${n} ${unit} -> /SC ${sc} /MO ${mo}${exact ? '' : ' + due-check'}`, () => {
      const interval = parseInterval(n, unit);
      const t = schtasksTiming(interval.seconds);
      expect([t.sc, t.mo, t.exact, t.rule.grid]).toEqual([sc, mo, exact, grid]);
      expect(t.rule.every).toBe(interval.seconds);
    });
  }
});

const state = 'C:\\Users\\Ann Lee\\AppData\\Local\\folder-sync';
const vbs = `${state}\\tasks\\photos.vbs`;
const cmd = `${state}\\tasks\\photos.cmd`;

describe('schtasks argv', () => {
  it('create: task in the folder-sync folder, schedule, short /TR pointing at the wrapper, /F', () => {
    expect(buildCreateArgs('photos', schtasksTiming(420), vbs)).toEqual([
      '/Create',
      '/TN',
      'folder-sync\\photos',
      '/SC',
      'MINUTE',
      '/MO',
      '7',
      '/TR',
      `wscript.exe //B //NoLogo "${vbs}"`,
      '/F',
    ]);
    expect(buildCreateArgs('photos', schtasksTiming(604_800 * 2), vbs)).toEqual([
      '/Create',
      '/TN',
      'folder-sync\\photos',
      '/SC',
      'WEEKLY',
      '/MO',
      '2',
      '/TR',
      `wscript.exe //B //NoLogo "${vbs}"`,
      '/ST',
      '00:00',
      '/D',
      'SUN',
      '/F',
    ]);
    expect(buildCreateArgs('photos', schtasksTiming(86_400), vbs)).toContain('/ST');
  });
  it('delete and query', () => {
    expect(buildDeleteArgs('photos')).toEqual(['/Delete', '/TN', 'folder-sync\\photos', '/F']);
    expect([...QUERY_ARGS]).toEqual(['/Query', '/FO', 'CSV', '/NH']);
  });
  it('a name is validated before it reaches schtasks (never * or a path)', () => {
    for (const bad of ['*', 'a\\b', '..\\x', 'a b', '', 'x"y']) {
      expect(() => taskName(bad)).toThrow(UsageError);
      expect(() => buildDeleteArgs(bad)).toThrow(UsageError);
    }
  });
  it(`/TR longer than ${TR_MAX} characters is refused with a clear line`, () => {
    expect(taskRun(vbs).length).toBeLessThanOrEqual(TR_MAX);
    expect(() => taskRun(`C:\\${'x'.repeat(250)}\\photos.vbs`)).toThrow(/too long for Task Scheduler/);
  });
});

describe('.cmd and .vbs wrappers', () => {
  const job: JobSpec = {
    name: 'photos',
    source: 'C:\\Users\\Ann Lee\\Pictures 100%',
    replica: 'D:\\',
    log: 'C:\\Users\\Ann Lee\\folder-sync %TEMP%.log',
    interval: parseInterval('15', 'seconds'),
    checksum: true,
    maxDelete: 10,
    allowEmptySource: false,
    logFormat: 'json',
  };
  const inv = { node: 'C:\\Program Files\\nodejs\\node.exe', cli: 'C:\\npm & co\\folder-sync\\dist\\cli.js', stateDir: state };
  const rule = schtasksTiming(job.interval.seconds).rule;
  const text = buildWrapperCmd('photos', job.interval.words, inv, jobPassArgs(job, rule), job.log);

  it('calls Node with full quoted paths, doubles % for cmd, appends output to the log, CRLF lines', () => {
    const lines = text.split('\r\n');
    expect(lines[0]).toBe('@echo off');
    expect(lines).toContain('chcp 65001 >nul');
    expect(lines).toContain(`set "FOLDER_SYNC_STATE_DIR=${state}"`);
    const run = lines.find((l) => l.startsWith('"')) as string;
    expect(run).toBe(
      '"C:\\Program Files\\nodejs\\node.exe" "C:\\npm & co\\folder-sync\\dist\\cli.js" "sync-once" ' +
        '"C:\\Users\\Ann Lee\\Pictures 100%%" "D:\\\\" --log "C:\\Users\\Ann Lee\\folder-sync %%TEMP%%.log" ' +
        '--job "photos" --every 15 --checksum --max-delete 10 --log-format "json" ' +
        '>>"C:\\Users\\Ann Lee\\folder-sync %%TEMP%%.log" 2>&1',
    );
    expect(text.endsWith('exit /b %ERRORLEVEL%\r\n')).toBe(true);
    expect(text.split('\n').every((l) => l === '' || l.endsWith('\r'))).toBe(true);
  });

  it('reads back to the same job', () => {
    const back = parseWrapperCmd(text);
    expect(back.stateDir).toBe(state);
    expect(back.argv.slice(0, 2)).toEqual([inv.node, inv.cli]);
    expect(parseJobPassArgs(back.argv)).toEqual({ ...job, rule });
  });

  it('cmdQuote: trailing backslashes doubled (MSVC argv rules), % doubled, a double quote refused', () => {
    expect(cmdQuote('D:\\')).toBe('"D:\\\\"');
    expect(cmdQuote('C:\\a b\\c')).toBe('"C:\\a b\\c"');
    expect(cmdQuote('50%')).toBe('"50%%"');
    expect(() => cmdQuote('a"b')).toThrow(UsageError);
    expect(() => cmdQuote('a\nb')).toThrow(UsageError);
  });

  it('the .vbs runs the .cmd hidden (window style 0) and waits for its exit code', () => {
    const v = buildWrapperVbs('photos', cmd);
    expect(v).toContain('CreateObject("WScript.Shell")');
    expect(v).toContain(`WScript.Quit shell.Run("""${cmd}""", 0, True)`);
  });
});

describe('schtasks /Query /FO CSV /NH', () => {
  const out = [
    '',
    'Folder: \\folder-sync',
    '"\\folder-sync\\photos","11/25/2026 1:30:00 AM","Ready"',
    '"\\folder-sync\\music_2","N/A","Disabled"',
    '"\\Microsoft\\Windows\\Defrag\\ScheduledDefrag","N/A","Ready"',
    '"\\folder-sync\\bad name","N/A","Ready"',
    '"\\other\\folder-sync\\x","N/A","Ready"',
  ].join('\r\n');
  it('finds our tasks with their next run time, and only ours', () => {
    expect([...ourTasks(parseCsv(out))]).toEqual([
      ['photos', '11/25/2026 1:30:00 AM'],
      ['music_2', 'N/A'],
    ]);
  });
  it('parses quoted fields with commas and doubled quotes', () => {
    expect(parseCsv('"a,b","c""d",e\r\n')).toEqual([['a,b', 'c"d', 'e']]);
  });
});

describe('the Task Scheduler backend keeps its wrappers in one state folder (schedule, list, unschedule)', () => {
  /** A stand-in for `schtasks`: creates, queries and deletes tasks in memory, as the real one would. */
  function fakeSchtasks(): { run: SchtasksRunner; tasks: Map<string, string> } {
    const tasks = new Map<string, string>();
    const run: SchtasksRunner = async (args) => {
      const name = args[args.indexOf('/TN') + 1]?.replace(/^folder-sync\\/, '') ?? '';
      if (args[0] === '/Create') tasks.set(name, args[args.indexOf('/TR') + 1] ?? '');
      else if (args[0] === '/Delete') tasks.delete(name);
      return [...tasks.keys()].map((n) => `"\\folder-sync\\${n}","N/A","Ready"`).join('\r\n');
    };
    return { run, tasks };
  }

  it('lists and removes the wrappers under the state folder it wrote them to, not the default one', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fs-schtasks-'));
    try {
      const source = join(root, 'src');
      mkdirSync(source);
      writeFileSync(join(source, 'a.txt'), 'a');
      const state = join(root, 'state'); // the invocation's state folder, not FOLDER_SYNC_STATE_DIR or ~/.local/state
      const fake = fakeSchtasks();
      const opts = {
        backend: createSchtasksBackend(fake.run),
        invocation: { node: 'C:\\node\\node.exe', cli: 'C:\\fs\\dist\\cli.js', stateDir: state },
      };
      const req = { source, replica: join(root, 'replica'), log: join(root, 'fs.log'), interval: parseInterval('7', 'minutes'), name: 'photos' };
      await scheduleJob(req, opts);
      expect(readdirSync(join(state, 'tasks')).sort()).toEqual(['photos.cmd', 'photos.vbs']);
      expect(fake.tasks.get('photos')).toBe(taskRun(join(state, 'tasks', 'photos.vbs')));

      const listed = await listJobs(opts);
      expect(listed.jobs).toHaveLength(1);
      expect(listed.jobs[0]).toMatchObject({ name: 'photos', source, interval: 'every 7 minutes', warnings: [] });

      expect(await unscheduleJobs(['photos'], opts)).toEqual(['photos']);
      expect(readdirSync(join(state, 'tasks'))).toEqual([]);
      expect(readdirSync(join(state, 'jobs'))).toEqual([]); // its last-pass record went too
      expect(fake.tasks.size).toBe(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
