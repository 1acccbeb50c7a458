/**
 * installers/runme.sh without its `npm ci` + build steps (--no-install; `npm test` has just built dist/):
 * demo data, one pass with a log, the log shown, the scheduling commands printed, nothing scheduled.
 * The full script, install included, is run by hand from a fresh clone (README, "Quick start").
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './_tree.js';

const repo = resolve(import.meta.dirname, '..');
const runme = join(repo, 'installers', 'runme.sh');

function runRunme(args: string[], demoDir: string, cwd: string): { code: number | null; out: string; err: string } {
  const r = spawnSync('bash', [runme, ...args], {
    cwd,
    encoding: 'utf8',
    input: '', // no stdin to read from
    env: {
      ...process.env,
      CI: 'true',
      NO_COLOR: '1',
      PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
      FOLDER_SYNC_DEMO_DIR: demoDir,
      FOLDER_SYNC_STATE_DIR: join(demoDir, '..', 'state'),
    },
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The root crontab as `crontab -l` prints it (or its "no crontab" error): runme must leave it alone. */
function crontab(): string {
  const r = spawnSync('crontab', ['-l'], { encoding: 'utf8' });
  return `${r.status} ${r.stdout} ${r.stderr}`;
}

describe('installers/runme.sh --no-install', () => {
  it('writes the demo, mirrors it with a log, shows the log and how to schedule, from any folder; re-runnable', () => {
    const base = tempDir('fs-runme-');
    const demo = join(base, 'demo');
    const elsewhere = join(base, 'elsewhere');
    mkdirSync(elsewhere);
    const cronBefore = crontab();

    const first = runRunme(['--no-install'], demo, elsewhere);
    expect(first.code, first.err + first.out).toBe(0);
    expect(first.err).toBe('');
    const out = first.out;
    expect(out).toMatch(/==> Writing demo data \(seed 1\)\n/);
    expect(out).toMatch(/demo: wrote 300 files \(.*; \d+ over 64 KiB, \d+ empty\)/);
    expect(out).toMatch(/INFO pass started: source ".*\/demo\/source" replica ".*\/demo\/replica" mode quick\n/);
    expect(out).toMatch(/INFO created file "/);
    expect(out).toMatch(/INFO pass finished: created [1-9]\d*, updated 0, removed 0, failed 0, /);
    const large = /  (\d+) files over 64 KiB in all/.exec(out);
    expect(Number(large?.[1])).toBeGreaterThan(0);
    // The second pass of the run: nothing to do.
    expect(out).toMatch(
      /A second pass.*\n.*INFO pass started: .*\n.*INFO pass finished: created 0, updated 0, removed 0, failed 0, skipped 0, bytes 0,/,
    );
    // The exact commands to schedule, list and unschedule, with absolute paths; nothing scheduled.
    const cli = join(repo, 'dist', 'cli.js');
    expect(out).toContain(`  node ${cli} schedule ${demo}/source ${demo}/replica 5 minutes ${demo}/folder-sync.log --name folder-sync-demo\n`);
    expect(out).toContain(`  node ${cli} list\n`);
    expect(out).toContain(`  node ${cli} unschedule folder-sync-demo\n`);
    expect(out).toContain(`  node ${cli} run ${demo}/source ${demo}/replica 5 minutes ${demo}/folder-sync.log\n`);
    expect(out).toMatch(/Nothing was scheduled\./);
    expect(crontab()).toBe(cronBefore);

    const log = readFileSync(join(demo, 'folder-sync.log'), 'utf8');
    expect(log.match(/ INFO pass started: /g)).toHaveLength(2);
    expect(log).toMatch(/ INFO created file "Photos 2024 – été\/large scan 01.tif"\n/);

    // Again: the regenerated demo tree is identical, so both passes of the second run log no operations.
    const second = runRunme(['--no-install'], demo, elsewhere);
    expect(second.code, second.err + second.out).toBe(0);
    expect(second.out.match(/INFO pass finished: created 0, updated 0, removed 0, failed 0, skipped 0, bytes 0,/g)).toHaveLength(2);
    const log2 = readFileSync(join(demo, 'folder-sync.log'), 'utf8').slice(log.length).trim().split('\n');
    expect(log2).toHaveLength(4);
    expect(log2.every((l) => / INFO pass (started|finished): /.test(l))).toBe(true);
  });

  it('stops with a non-zero exit code when a step fails (here: the demo refuses a folder it did not write)', () => {
    const base = tempDir('fs-runme-');
    const demo = join(base, 'demo');
    mkdirSync(join(demo, 'source'), { recursive: true });
    writeFileSync(join(demo, 'source', 'notes.txt'), 'mine');
    const r = runRunme(['--no-install'], demo, base);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/folder-sync: demo folder .* is not empty and was not written by "folder-sync demo"/);
    expect(r.out).not.toMatch(/One mirror pass/);
    expect(existsSync(join(demo, 'replica'))).toBe(false);
    expect(readFileSync(join(demo, 'source', 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('rejects an unknown option with exit 2 and its usage', () => {
    const base = tempDir('fs-runme-');
    const r = runRunme(['--frobnicate'], join(base, 'demo'), base);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown option "--frobnicate"\nUsage: installers\/runme.sh/);
    expect(existsSync(join(base, 'demo'))).toBe(false);
  });

  it('parses as bash (bash -n)', () => {
    const r = spawnSync('bash', ['-n', runme], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });
});

describe('installers/runme.bat (not runnable here: checked as text)', () => {
  const bat = readFileSync(join(repo, 'installers', 'runme.bat'), 'utf8');
  const lines = bat.split('\r\n');

  it('has CRLF line endings only (cmd mis-parses labels and goto with bare LF)', () => {
    expect(bat.endsWith('\r\n')).toBe(true);
    expect(bat.replaceAll('\r\n', '')).not.toMatch(/[\r\n]/);
  });

  it('runs the same steps as runme.sh, each checked for failure', () => {
    const steps = ['call npm ci', 'call npm run build', 'node "%CLI%" demo', 'node "%CLI%" sync-once', 'node "%CLI%" schedule'];
    for (const step of steps) {
      const i = lines.findIndex((l) => l.trimStart().startsWith(step));
      expect(i, step).toBeGreaterThan(0);
      expect(lines[i + 1]?.trim(), `after ${step}`).toMatch(/^(if errorlevel 1 exit \/b|exit \/b %errorlevel%)/);
    }
    expect(bat).toMatch(/cd \/d "%~dp0\.\."/);
    expect(bat).toMatch(/if \/i "%~1"=="--schedule"/);
  });

  it('has balanced parentheses outside echo text, and no unescaped > or | in echo lines', () => {
    let depth = 0;
    for (const line of lines) {
      const code = line.trimStart();
      if (code.startsWith('echo') || code.startsWith('rem')) {
        if (code.startsWith('echo')) expect(code.replace(/1>&2$/, ''), code).not.toMatch(/[<>|&]/);
        continue;
      }
      for (const ch of code.replace(/"[^"]*"/g, '')) {
        if (ch === '(') depth++;
        if (ch === ')') depth--;
        expect(depth, line).toBeGreaterThanOrEqual(0);
      }
    }
    expect(depth).toBe(0);
  });
});
