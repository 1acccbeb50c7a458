/**
 * The exclude flags wherever a pass runs besides sync-once: a scheduled job keeps them in its crontab line (an
 * --exclude-from file by absolute path, checked at schedule time), the installed line run the way cron runs it
 * obeys them, `list` shows them; `run` takes them too. Uses a stand-in crontab (the daemon never fires these).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, userTempDir, type CliResult } from './_cli.js';
import { fakeCrontab, runLineAsCron } from './_cron.js';
import { buildTree, dir, file, giveToTestUser, snapshotTree } from './_tree.js';

function paths(root: string): string[] {
  return [...snapshotTree(root).entries()]
    .filter(([p]) => p !== '.')
    .map(([p, s]) => (s.type === 'dir' ? `${p}/` : p))
    .sort();
}

function folders(): { base: string; src: string; rep: string; log: string; rules: string } {
  const base = userTempDir('fs-filter-sched-');
  mkdirSync(join(base, 'src'));
  buildTree(join(base, 'src'), {
    'a.txt': file('a'),
    'scratch 100%.tmp': file('t'),
    'keep.tmp': file('k'),
    node_modules: dir({ 'x.js': file('x') }),
    '-odd': file('dash'),
    sub: dir({ '.syncignore': file('*.log\n'), 'b.log': file('b'), 'c.txt': file('c') }),
    cache: dir({ '.nobackup': file(''), big: file('b') }),
  });
  writeFileSync(join(base, 'rules'), '# mine\n*.tmp\n!keep.tmp\n');
  giveToTestUser(base);
  return { base, src: join(base, 'src'), rep: join(base, 'rep'), log: join(base, 'logs', 'sync.log'), rules: join(base, 'rules') };
}

const FLAGS = (f: { rules: string }): string[] => [
  '--exclude-from',
  f.rules,
  '--exclude',
  'node_modules/',
  '--exclude',
  '-odd',
  '--ignore-file',
  '.syncignore',
  '--exclude-if-present',
  '.nobackup',
  '--ignore-case',
];

describe.sequential('a scheduled job keeps its filters', () => {
  const fake = fakeCrontab();
  const state = userTempDir('fs-filter-state-');
  const cli = (args: string[], cwd?: string): Promise<CliResult> =>
    runCli(args, { asUser: true, cwd, env: { FOLDER_SYNC_STATE_DIR: state, ...fake.env }, timeoutMs: 30_000 });
  const ourLine = (): string =>
    fake
      .table()
      .split('\n')
      .find((l) => l.includes('# folder-sync:job=filtered')) ?? '';

  it('the installed line carries them (--exclude-from absolute) and, run as cron runs it, mirrors only what they keep', async () => {
    const f = folders();
    // A relative --exclude-from, from the folder that holds it: stored absolute.
    const flags = FLAGS(f).map((w) => (w === f.rules ? 'rules' : w));
    const r = await cli(['schedule', f.src, f.rep, '7', 'minutes', f.log, '--name', 'filtered', ...flags], f.base);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`filters: --exclude-from ${f.rules} --exclude node_modules/ --exclude '-odd' --ignore-file .syncignore`);
    const line = ourLine();
    expect(line).toContain(`'--exclude-from=${f.rules}'`);

    expect(runLineAsCron(line)).toEqual({ status: 0, output: '' });
    expect(paths(f.rep)).toEqual(['a.txt', 'keep.tmp', 'sub/', 'sub/.syncignore', 'sub/c.txt']);
    expect(readFileSync(f.log, 'utf8')).toMatch(/filter: 4 exclude rules, ignore files \.syncignore, exclude-if-present \.nobackup, ignoring case/);

    const list = await cli(['list']);
    expect(list.stdout).toContain(`filters:        --exclude-from ${f.rules} --exclude node_modules/ --exclude '-odd' --ignore-file .syncignore`);
    const json = JSON.parse((await cli(['list', '--json'])).stdout) as { jobs: { name: string; filters?: string }[] };
    expect(json.jobs.find((j) => j.name === 'filtered')?.filters).toMatch(/--exclude-if-present \.nobackup --ignore-case$/);
  });

  it('the --exclude-from file is read again by each pass: an edit applies to the next one', async () => {
    const f = folders();
    expect((await cli(['schedule', f.src, f.rep, '1', 'minutes', f.log, '--name', 'filtered', ...FLAGS(f)])).code).toBe(0);
    expect(runLineAsCron(ourLine()).status).toBe(0);
    expect(existsSync(join(f.rep, 'keep.tmp'))).toBe(true);
    writeFileSync(f.rules, '*.tmp\n'); // keep.tmp is no longer re-included; the replica's copy is left alone
    writeFileSync(join(f.src, 'new.tmp'), 'n');
    giveToTestUser(f.base);
    // A 1-minute job is plain: every firing is a pass.
    expect(runLineAsCron(ourLine()).status).toBe(0);
    expect(existsSync(join(f.rep, 'new.tmp'))).toBe(false);
    expect(existsSync(join(f.rep, 'keep.tmp'))).toBe(true);
  });

  it('schedule refuses bad filters: exit 2, one line, no line installed', async () => {
    const f = folders();
    const before = fake.table();
    const missing = await cli(['schedule', f.src, f.rep, '5', 'minutes', f.log, '--name', 'bad', '--exclude-from', join(f.base, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--exclude-from file cannot be read: .*nope: no such file or directory/);
    chmodSync(f.rules, 0o000); // the test user owns it: without read permission it cannot read it
    const unreadable = await cli(['schedule', f.src, f.rep, '5', 'minutes', f.log, '--name', 'bad', '--exclude-from', f.rules]);
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toMatch(/--exclude-from file cannot be read: .*permission denied \(EACCES\)/);
    const outside = await cli(['schedule', f.src, f.rep, '5', 'minutes', f.log, '--name', 'bad', '--exclude', join(f.base, 'elsewhere')]);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/can never match: it is an absolute path outside the source/);
    expect(fake.table()).toBe(before);
  });
});

describe('run takes the same flags', () => {
  it('its passes obey them; a bad filter stops it at startup with exit 2', async () => {
    const f = folders();
    const read = (): string => (existsSync(f.log) ? readFileSync(f.log, 'utf8') : '');
    // As yourself: the SIGTERM must reach Node itself (runuser would not pass it on).
    const r = await runCli(['run', f.src, f.rep, '1', 'hours', f.log, ...FLAGS(f)], {
      onSpawn: (child) => {
        const timer = setInterval(() => {
          if (!read().includes('pass finished')) return;
          clearInterval(timer);
          child.kill('SIGTERM');
        }, 10);
        child.on('close', () => clearInterval(timer));
      },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(paths(f.rep)).toEqual(['a.txt', 'keep.tmp', 'sub/', 'sub/.syncignore', 'sub/c.txt']);

    const bad = await runCli(['run', f.src, f.rep, '1', 'hours', f.log, '--exclude', '']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.split('\n').filter((l) => l && !l.startsWith('Run "folder-sync'))).toEqual([
      expect.stringMatching(/--exclude pattern is empty/),
    ]);
  });
});
