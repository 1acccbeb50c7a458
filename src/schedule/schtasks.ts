/**
 * The Task Scheduler backend (Windows): pure builders for the `schtasks` argv and the generated wrappers, and a
 * small runner. /TR is limited to 261 characters, so the task runs a short `wscript` line that starts a
 * generated `.cmd` in the state folder with no console window; the `.cmd` calls Node with full quoted paths.
 * Built and tested as pure functions only: there is no Windows machine in CI (see docs/scheduling.md).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { OperationError, UsageError } from '../errors.js';
import { checkJobName, type Invocation } from './cron.js';
import type { DueRule } from './due.js';
import { jobPassArgs, parseJobPassArgs, type JobSpec } from './jobs.js';
import type { InstalledJob, InstallResult, SchedulerBackend } from './backend.js';

export type ScheduleKind = 'MINUTE' | 'HOURLY' | 'DAILY' | 'WEEKLY';

export interface SchtasksTiming {
  sc: ScheduleKind;
  mo: number;
  /** Seconds between firings. */
  grid: number;
  exact: boolean;
  rule: DueRule;
}

/** schtasks' own limits of /MO per schedule kind. */
const MO_MAX: Record<ScheduleKind, number> = { MINUTE: 1439, HOURLY: 23, DAILY: 365, WEEKLY: 52 };

function kindFor(seconds: number): [ScheduleKind, number] | undefined {
  if (seconds % 604_800 === 0 && seconds / 604_800 <= MO_MAX.WEEKLY) return ['WEEKLY', seconds / 604_800];
  if (seconds % 86_400 === 0 && seconds / 86_400 <= MO_MAX.DAILY) return ['DAILY', seconds / 86_400];
  if (seconds % 3600 === 0 && seconds / 3600 <= MO_MAX.HOURLY) return ['HOURLY', seconds / 3600];
  if (seconds % 60 === 0 && seconds / 60 <= MO_MAX.MINUTE) return ['MINUTE', seconds / 60];
  return undefined;
}

/**
 * Task Scheduler repeats MINUTE/HOURLY triggers without resetting at the hour, so any whole number of minutes
 * up to 1439 is exact, as are 1-365 days and 1-52 weeks. Other lengths (25 hours, 366 days) fire on the largest
 * exact divisor with a due-check; seconds fire every minute and loop within it.
 */
export function schtasksTiming(everySeconds: number): SchtasksTiming {
  if (everySeconds % 60 !== 0) return { sc: 'MINUTE', mo: 1, grid: 60, exact: false, rule: { every: everySeconds } };
  const exact = kindFor(everySeconds);
  if (exact) return { sc: exact[0], mo: exact[1], grid: everySeconds, exact: true, rule: { every: everySeconds } };
  for (let parts = 2; parts <= everySeconds / 60; parts++) {
    if (everySeconds % parts !== 0) continue;
    const grid = everySeconds / parts;
    const kind = grid % 60 === 0 ? kindFor(grid) : undefined;
    if (kind) return { sc: kind[0], mo: kind[1], grid, exact: false, rule: { every: everySeconds, grid } };
  }
  return { sc: 'MINUTE', mo: 1, grid: 60, exact: false, rule: { every: everySeconds, grid: 60 } };
}

export function taskName(name: string): string {
  return `folder-sync\\${checkJobName(name)}`;
}

/** /TR may hold at most 261 characters. */
export const TR_MAX = 261;

export function wrapperPaths(name: string, stateDir: string): { cmd: string; vbs: string } {
  const dir = join(stateDir, 'tasks');
  return { cmd: join(dir, `${name}.cmd`), vbs: join(dir, `${name}.vbs`) };
}

/** The /TR text: wscript runs the .vbs, which runs the .cmd hidden (no console window flashes). */
export function taskRun(vbsPath: string): string {
  const tr = `wscript.exe //B //NoLogo "${vbsPath}"`;
  if (tr.length > TR_MAX) {
    throw new UsageError(`the state folder path is too long for Task Scheduler (/TR over ${TR_MAX} characters): ${vbsPath}`);
  }
  return tr;
}

export function buildCreateArgs(name: string, timing: SchtasksTiming, vbsPath: string): string[] {
  const args = ['/Create', '/TN', taskName(name), '/SC', timing.sc, '/MO', String(timing.mo), '/TR', taskRun(vbsPath)];
  // Days and weeks start at midnight (Sunday for weeks), like cron's @daily and @weekly.
  if (timing.sc === 'DAILY' || timing.sc === 'WEEKLY') args.push('/ST', '00:00');
  if (timing.sc === 'WEEKLY') args.push('/D', 'SUN');
  args.push('/F');
  return args;
}

export function buildDeleteArgs(name: string): string[] {
  return ['/Delete', '/TN', taskName(name), '/F'];
}

export const QUERY_ARGS = ['/Query', '/FO', 'CSV', '/NH'] as const;

function checkWindowsPath(path: string, what: string): void {
  if (/["\r\n\0]/.test(path)) throw new UsageError(`${what} cannot be written into a Windows command line: ${JSON.stringify(path)}`);
}

/**
 * One argument for Node on a .cmd line: double quotes (MSVC rules: backslashes before the closing quote are
 * doubled so `D:\` stays `D:\`), and `%` doubled because cmd expands `%name%` in batch files.
 */
export function cmdQuote(arg: string): string {
  checkWindowsPath(arg, 'argument');
  const body = arg.replace(/(\\+)$/, '$1$1');
  return `"${body}"`.replaceAll('%', '%%');
}

/** Flags and numbers stay bare. */
function cmdWord(word: string): string {
  return /^(--[a-z][a-z-]*|[0-9]+)$/.test(word) ? word : cmdQuote(word);
}

/** The .cmd wrapper: UTF-8 code page (non-ASCII paths), state folder, Node with full paths, output appended to the log. */
export function buildWrapperCmd(name: string, words: string, inv: Invocation, passArgs: readonly string[], log: string): string {
  checkJobName(name);
  for (const [what, p] of [
    ['Node', inv.node],
    ['CLI script', inv.cli],
    ['state folder', inv.stateDir],
    ['log file', log],
  ] as const) {
    checkWindowsPath(p, what);
  }
  const command = [cmdQuote(inv.node), cmdQuote(inv.cli), ...passArgs.map(cmdWord)].join(' ');
  return [
    '@echo off',
    `rem folder-sync job ${name}: ${words} (generated by folder-sync schedule; change it with folder-sync schedule/unschedule)`,
    'chcp 65001 >nul',
    `set "FOLDER_SYNC_STATE_DIR=${inv.stateDir.replaceAll('%', '%%')}"`,
    `${command} >>"${log.replaceAll('%', '%%')}" 2>&1`,
    'exit /b %ERRORLEVEL%',
    '',
  ].join('\r\n');
}

/** The .vbs that runs the .cmd hidden (window style 0) and returns its exit code. Written as UTF-16LE with BOM. */
export function buildWrapperVbs(name: string, cmdPath: string): string {
  checkWindowsPath(cmdPath, 'wrapper');
  return [
    `' folder-sync job ${name}: runs ${name}.cmd without a console window (generated by folder-sync schedule)`,
    'Set shell = CreateObject("WScript.Shell")',
    `WScript.Quit shell.Run("""${cmdPath}""", 0, True)`,
    '',
  ].join('\r\n');
}

/** Read the Node arguments back from a .cmd wrapper this module wrote. */
export function parseWrapperCmd(text: string): { argv: string[]; stateDir?: string } {
  const lines = text.split(/\r?\n/);
  const state = lines.find((l) => l.startsWith('set "FOLDER_SYNC_STATE_DIR='));
  const line = lines.find((l) => l.startsWith('"')) ?? '';
  const argv: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    if (m[2]?.startsWith('>>')) break;
    const raw = m[1] !== undefined ? m[1].replace(/(\\+)$/, (s) => s.slice(0, s.length / 2)) : (m[2] as string);
    argv.push(raw.replaceAll('%%', '%'));
  }
  return { argv, stateDir: state?.slice('set "FOLDER_SYNC_STATE_DIR='.length, -1).replaceAll('%%', '%') };
}

/** Parse `schtasks /Query /FO CSV /NH` output: one array of fields per row. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const fields: string[] = [];
    const re = /"((?:[^"]|"")*)"|([^,]*)/g;
    let pos = 0;
    while (pos <= line.length) {
      re.lastIndex = pos;
      const m = re.exec(line);
      if (!m) break;
      fields.push(m[1] !== undefined ? m[1].replaceAll('""', '"') : (m[2] ?? ''));
      pos = re.lastIndex + 1;
    }
    rows.push(fields);
  }
  return rows;
}

/** Our tasks in a query: name -> the "Next Run Time" text. */
export function ourTasks(rows: readonly string[][]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [task, next] of rows) {
    const m = /^\\folder-sync\\([A-Za-z0-9_-]{1,64})$/.exec(task ?? '');
    if (m) out.set(m[1] as string, next ?? '');
  }
  return out;
}

/** Runs `schtasks` with these arguments and resolves to its stdout (tests give the backend a fake one). */
export type SchtasksRunner = (args: readonly string[], what: string) => Promise<string>;

async function runSchtasks(args: readonly string[], what: string): Promise<string> {
  const r = await execa('schtasks', args, { reject: false, windowsHide: true });
  if (r.exitCode !== 0 || r.failed) {
    const detail =
      String(r.stderr ?? '')
        .trim()
        .split(/\r?\n/)[0] ||
      r.shortMessage ||
      'failed';
    throw new OperationError(`cannot ${what}: ${detail}`);
  }
  return String(r.stdout);
}

/** The backend over a `schtasks` runner: the real command unless a test gives another. */
export function createSchtasksBackend(schtasks: SchtasksRunner = runSchtasks): SchedulerBackend {
  return {
    name: 'schtasks',
    async install(job: JobSpec, inv: Invocation): Promise<InstallResult> {
      const timing = schtasksTiming(job.interval.seconds);
      const paths = wrapperPaths(job.name, inv.stateDir);
      const before = ourTasks(parseCsv(await schtasks(QUERY_ARGS, 'query Task Scheduler')));
      const cmd = buildWrapperCmd(job.name, job.interval.words, inv, jobPassArgs(job, timing.rule), job.log);
      const vbs = buildWrapperVbs(job.name, paths.cmd);
      const args = buildCreateArgs(job.name, timing, paths.vbs);
      mkdirSync(join(inv.stateDir, 'tasks'), { recursive: true });
      writeFileSync(paths.cmd, cmd, 'utf8');
      writeFileSync(paths.vbs, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(vbs, 'utf16le')]));
      await schtasks(args, `create the task ${taskName(job.name)}`);
      return { replaced: before.has(job.name), timing: `${timing.sc} /MO ${timing.mo}`, exact: timing.exact };
    },
    async remove(names: readonly string[] | 'all', dir: string): Promise<string[]> {
      const present = ourTasks(parseCsv(await schtasks(QUERY_ARGS, 'query Task Scheduler')));
      const targets = names === 'all' ? [...present.keys()] : names.filter((n) => present.has(n));
      for (const name of targets) {
        await schtasks(buildDeleteArgs(name), `delete the task ${taskName(name)}`);
        const paths = wrapperPaths(name, dir);
        rmSync(paths.cmd, { force: true });
        rmSync(paths.vbs, { force: true });
      }
      return targets;
    },
    async list(dir: string): Promise<InstalledJob[]> {
      const tasks = ourTasks(parseCsv(await schtasks(QUERY_ARGS, 'query Task Scheduler')));
      return [...tasks].map(([name, next]): InstalledJob => {
        let argv: string[] = [];
        let jobDir: string | undefined;
        try {
          ({ argv, stateDir: jobDir } = parseWrapperCmd(readFileSync(wrapperPaths(name, dir).cmd, 'utf8')));
        } catch {
          // wrapper missing: the task is listed with what Task Scheduler knows
        }
        const spec = parseJobPassArgs(argv);
        const timing = spec ? schtasksTiming(spec.interval.seconds) : undefined;
        return {
          name,
          backend: 'schtasks',
          timing: timing ? `${timing.sc} /MO ${timing.mo}` : '?',
          spec,
          nextRunText: next,
          stateDir: jobDir,
        };
      });
    },
  };
}

export const schtasksBackend: SchedulerBackend = createSchtasksBackend();
