/**
 * `folder-sync run` end to end: the built CLI as a long-lived child process, real folders, real signals.
 * Waits poll the log file; every wait has a deadline and says what it waited for.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { isTempName } from '../src/sync/temp.js';
import { repoCli, runCli } from './_cli.js';
import { buildTree, compareTrees, giveToTestUser, isRoot, tempDir, testUser } from './_tree.js';

interface RunProc {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

// A run left behind by a failing test must not outlive it.
const running = new Set<ChildProcess>();
afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});

/** Start `folder-sync run ...args` in the background (as the unprivileged test user with `asUser`, when root). */
function startRun(args: string[], opts: { stateDir: string; asUser?: boolean; env?: Record<string, string> }): RunProc {
  const user = opts.asUser && isRoot ? testUser() : undefined;
  const cli = user ? (inject('asUserCli') ?? repoCli) : repoCli;
  const child = spawn(process.execPath, [cli, 'run', ...args], {
    cwd: tmpdir(),
    env: { ...process.env, NO_COLOR: '1', FOLDER_SYNC_STATE_DIR: opts.stateDir, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  running.add(child);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, pid: child.pid as number, stdout: () => out, stderr: () => err, exit };
}

const read = (path: string): string => (existsSync(path) ? readFileSync(path, 'utf8') : '');
const count = (text: string, needle: string): number => text.split(needle).length - 1;

/** Poll `check` every 5 ms until it returns true; fail with `what` after `timeoutMs`. */
async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000, proc?: RunProc): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${proc ? `\nstdout:\n${proc.stdout()}\nstderr:\n${proc.stderr()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Every temporary of this tool anywhere below `root`. */
function temporaries(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (isTempName(name)) found.push(path);
      else if (lstatSync(path).isDirectory()) walk(path);
    }
  };
  walk(root);
  return found;
}

/** Start times (ms since the epoch) of the passes in a text log. */
function passStarts(log: string): number[] {
  return log
    .split('\n')
    .filter((l) => / INFO pass started: /.test(l))
    .map((l) => Date.parse(l.slice(0, l.indexOf(' '))));
}

/**
 * True once a pass that started after `sinceMs` (wall clock, as the log's timestamps) has finished: that pass saw
 * every change made before `sinceMs`, however many passes ran while the changes were being made.
 */
function passAfterFinished(log: string, sinceMs: number): boolean {
  const lines = log.split('\n');
  const start = lines.findIndex((l) => / INFO pass started: /.test(l) && Date.parse(l.slice(0, l.indexOf(' '))) > sinceMs);
  return start >= 0 && lines.slice(start + 1).some((l) => / INFO pass finished: /.test(l));
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

const MiB = 1024 * 1024;

describe('folder-sync run', () => {
  it('passes every 2 seconds while the source changes; SIGTERM mid-copy leaves no torn file and logs a closing line', async () => {
    const src = buildTree(tempDir(), { a: 'one', keep: { b: 'two' }, gone: 'soon removed' });
    const replica = join(tempDir(), 'replica');
    const log = join(tempDir(), 'logs', 'run.log');
    const big = join(src, 'batch', 'big');
    // SIGTERM reaches the run right after the first block of the big file's copy was read (test/_mid-copy.mjs).
    const env = { NODE_OPTIONS: `--import ${join(import.meta.dirname, '_mid-copy.mjs')}`, FOLDER_SYNC_TEST_MID_COPY: `sigterm:${big}` };
    const run = startRun([src, replica, '2', 'seconds', log], { stateDir: tempDir('fs-state-'), env });
    const finished = (n: number) => () => count(read(log), 'pass finished') >= n;
    // However long the edits take, a pass that started after them has seen all of them.
    const mirroredSince = (t: number) => () => passAfterFinished(read(log), t);

    await waitFor('pass 1', finished(1), 20_000, run);
    expect(compareTrees(src, replica)).toEqual([]);

    // Changes between passes: a new file, a changed file, a removed file, a new folder.
    writeFileSync(join(src, 'new'), 'fresh');
    writeFileSync(join(src, 'a'), 'one, edited');
    rmSync(join(src, 'gone'));
    buildTree(src, { sub: { c: 'three' } });
    await waitFor('a pass after the first edits', mirroredSince(Date.now()), 20_000, run);
    expect(compareTrees(src, replica)).toEqual([]);

    writeFileSync(join(src, 'keep', 'b'), 'two, longer now');
    await waitFor('a pass after the second edit', mirroredSince(Date.now()), 20_000, run);
    expect(compareTrees(src, replica)).toEqual([]);

    // Never early: each pass starts at least 2 s after the previous one did, so pass k at least (k-1) x 2 s after
    // the run started (a few ms for the log's millisecond timestamps and the wall clock's slew against the
    // monotonic one). How late they come depends on the machine's load, so it is not asserted here; the exact
    // spacing is run-loop.test.ts's, on a clock it controls.
    const text = read(log);
    const started = Date.parse(text.slice(0, text.indexOf(' ')));
    expect(text.split('\n')[0]).toMatch(/INFO run started \(pid \d+\): every 2 seconds, source /);
    const starts = passStarts(text);
    for (let i = 0; i < starts.length; i++) expect((starts[i] as number) - started).toBeGreaterThanOrEqual(i * 2_000 - 5);

    // A large file (4 MiB, four blocks of the copy loop) followed by small ones, moved in at once. The hook sends
    // SIGTERM while the big file is being copied: the run stops after that file.
    const stage = join(tempDir(), 'batch');
    mkdirSync(stage);
    writeFileSync(join(stage, 'big'), Buffer.alloc(4 * MiB, 0x61));
    for (let i = 0; i < 20; i++) writeFileSync(join(stage, `zz-${String(i).padStart(2, '0')}`), `small ${i}`);
    renameSync(stage, join(src, 'batch'));
    const batch = join(replica, 'batch');
    const { code, signal } = await run.exit;
    expect(run.stderr()).toContain(`test hook: sigterm ${big} (1)`);
    expect(signal).toBeNull();
    expect(code, run.stderr()).toBe(0);

    // No torn file under its real name, no temporaries anywhere.
    expect(temporaries(replica)).toEqual([]);
    const copy = join(batch, 'big');
    if (existsSync(copy)) {
      expect(lstatSync(copy).size).toBe(4 * MiB);
      const ms = (p: string): bigint => lstatSync(p, { bigint: true }).mtimeNs / 1_000_000n;
      expect(ms(copy)).toBe(ms(big));
    }
    // The pass stopped between files: none of the small files after the big one was copied.
    expect(readdirSync(batch).filter((n) => n.startsWith('zz-'))).toEqual([]);

    const lines = read(log).trimEnd().split('\n');
    expect(lines.some((l) => l.includes('INFO SIGTERM received: stopping after the current file'))).toBe(true);
    expect(lines.some((l) => l.includes('pass stopped: the pass was interrupted'))).toBe(true);
    // How many passes ran depends on the machine's speed; every one before the interrupted one was complete.
    const passes = count(read(log), 'pass started');
    expect(lines.at(-1)).toMatch(
      new RegExp(
        `INFO run stopped \\(SIGTERM\\) after ${passes} passes: ${passes - 1} complete, 0 with failures, 1 interrupted, 0 refused, 0 failed$`,
      ),
    );
    // Untouched parts of the mirror are still exact.
    expect(compareTrees(src, replica, { ignore: (p) => p === '.' || p.startsWith('batch') })).toEqual([]);
  });

  // issue 14
  it('--versions: the passes keep what they remove, and SIGTERM stops the run as usual', async () => {
    const src = buildTree(tempDir(), { a: 'one', gone: 'soon removed' });
    const replica = join(tempDir(), 'replica');
    const versions = `${replica}.versions`;
    const log = join(tempDir(), 'logs', 'run.log');
    const run = startRun([src, replica, '1', 'seconds', log, '--versions', versions, '--keep-versions', '5'], { stateDir: tempDir('fs-state-') });
    await waitFor('pass 1', () => count(read(log), 'pass finished') >= 1, 20_000, run);
    rmSync(join(src, 'gone'));
    let kept: string | undefined;
    await waitFor(
      'the removal, kept',
      () => (kept = /removed file "gone" \(kept in versions (\S+)\)/.exec(read(log))?.[1]) !== undefined,
      20_000,
      run,
    );
    expect(readFileSync(join(versions, kept as string, 'gone'), 'utf8')).toBe('soon removed');
    expect(read(log)).toContain(`versions "${versions}"`);
    run.child.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    expect(compareTrees(src, replica)).toEqual([]);
  });

  it('holds the replica lock for its whole life: sync-once on the same replica exits 75 until the run stops', async () => {
    const stateDir = tempDir('fs-state-');
    const src = buildTree(tempDir(), { f: 'x' });
    const replica = join(tempDir(), 'replica');
    const log = join(tempDir(), 'run.log');
    const run = startRun([src, replica, '1', 'hour', log], { stateDir });
    await waitFor('pass 1', () => read(log).includes('pass finished'), 20_000, run);

    const locks = readdirSync(join(stateDir, 'locks')).filter((n) => n.endsWith('.lock'));
    expect(locks).toHaveLength(1);
    const record = JSON.parse(readFileSync(join(stateDir, 'locks', locks[0] as string), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({ pid: run.pid, mode: 'run', replica, source: src, log });

    // `list` finds it through the lock and shows it as a foreground run.
    const listed = await runCli(['list', '--json'], { env: { FOLDER_SYNC_STATE_DIR: stateDir } });
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { foreground: unknown[] }).foreground).toEqual([
      expect.objectContaining({ pid: run.pid, replica, source: src, log }),
    ]);

    // The same replica, also when named through a symlink; while the run waits for its next pass.
    const alias = join(tempDir(), 'alias');
    symlinkSync(replica, alias);
    for (const target of [replica, alias]) {
      const busy = await runCli(['sync-once', src, target], { env: { FOLDER_SYNC_STATE_DIR: stateDir } });
      expect(busy.code, busy.stderr).toBe(75);
      expect(busy.stderr).toContain(`another pass is running on ${replica} (pid ${run.pid}`);
    }
    // A pass as the OS scheduler starts it (what `schedule` installs): skipped, logged, exit 75.
    const jobLog = join(tempDir(), 'job.log');
    const job = await runCli(['sync-once', src, replica, '--log', jobLog, '--job', 'photos', '--every', '60'], {
      env: { FOLDER_SYNC_STATE_DIR: stateDir },
    });
    expect(job.code, job.stderr).toBe(75);
    expect(read(jobLog)).toContain(`pass skipped: another pass is running on ${replica} (pid ${run.pid}`);
    // A second run on the same replica is refused the same way, before it writes anything.
    const second = await runCli(['run', src, replica, '1', 'minute', join(tempDir(), 'second.log')], {
      env: { FOLDER_SYNC_STATE_DIR: stateDir },
    });
    expect(second.code, second.stderr).toBe(75);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);

    run.child.kill('SIGINT');
    expect((await run.exit).code).toBe(0);
    expect(read(log).trimEnd().split('\n').at(-1)).toMatch(/run stopped \(SIGINT\) after 1 pass: 1 complete/);
    expect(readdirSync(join(stateDir, 'locks')).filter((n) => n.endsWith('.lock'))).toEqual([]);
    const free = await runCli(['sync-once', src, replica], { env: { FOLDER_SYNC_STATE_DIR: stateDir } });
    expect(free.code, free.stderr).toBe(0);
  });

  it('SIGHUP reopens the log file (logrotate), and open files stay flat across passes and reopens', async () => {
    const src = buildTree(tempDir(), { f: 'x' });
    const replica = join(tempDir(), 'replica');
    const logDir = tempDir();
    const log = join(logDir, 'run.log');
    const rotated = join(logDir, 'run.log.1');
    const run = startRun([src, replica, '1', 'second', log], { stateDir: tempDir('fs-state-') });
    await waitFor('pass 2', () => count(read(log), 'pass finished') >= 2, 20_000, run);
    const fdsEarly = openFds(run.pid);

    renameSync(log, rotated); // what logrotate does, then it sends HUP
    const before = read(rotated);
    run.child.kill('SIGHUP');
    await waitFor('the reopened log', () => read(log).includes('log file reopened (SIGHUP)'), 20_000, run);
    await waitFor('a pass in the new log', () => read(log).includes('pass finished'), 20_000, run);
    // A second rotation, to show that reopening does not leak the old descriptor.
    renameSync(log, `${rotated}.2`);
    run.child.kill('SIGHUP');
    await waitFor('the second reopen', () => read(log).includes('log file reopened (SIGHUP)'), 20_000, run);
    await waitFor('three more passes', () => count(read(log), 'pass finished') >= 3, 20_000, run);
    const fdsLate = openFds(run.pid);

    run.child.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    expect(fdsLate).toBe(fdsEarly);
    // The rotated file got only lines written before the HUP; the closing line is in the new file.
    const old = read(rotated);
    expect(old.startsWith(before)).toBe(true);
    expect(old).not.toContain('reopened');
    expect(old).not.toContain('run stopped');
    expect(read(log).trimEnd().split('\n').at(-1)).toMatch(/run stopped \(SIGTERM\)/);
  });

  it('a refused pass (source emptied or gone) is logged as an error and retried, never "fixed" by deleting', async () => {
    const src = buildTree(tempDir(), { a: 'one', d: { b: 'two' } });
    const replica = join(tempDir(), 'replica');
    const log = join(tempDir(), 'run.log');
    const run = startRun([src, replica, '1', 'second', log], { stateDir: tempDir('fs-state-') });
    await waitFor('pass 1', () => read(log).includes('pass finished'), 20_000, run);
    const mirrored = compareTrees(src, replica);
    expect(mirrored).toEqual([]);

    // An empty source (an unmounted disk looks empty): refused, the replica keeps everything. Each state of the
    // source comes in one rename, so no pass can see half of a change (such as only one of two entries gone).
    const full = `${src}.full`;
    renameSync(src, full); // for a moment no source at all: also refused
    const empty = `${src}.empty`;
    mkdirSync(empty);
    renameSync(empty, src);
    await waitFor('a refused pass', () => /ERROR pass \d+ refused: source .* is empty/.test(read(log)), 20_000, run);
    // The source folder itself disappears: refused too.
    rmdirSync(src);
    await waitFor('a refusal for the missing source', () => read(log).includes('refused: source folder does not exist'), 20_000, run);
    expect(readdirSync(replica).sort()).toEqual(['a', 'd']);

    // Back again, with a new file: the next pass mirrors as usual.
    writeFileSync(join(full, 'later'), 'added after the outage');
    renameSync(full, src);
    await waitFor('the mirror to catch up', () => existsSync(join(replica, 'later')), 20_000, run);
    await waitFor('that pass to finish', () => /created file "later"[\s\S]*pass finished/.test(read(log)), 20_000, run);
    run.child.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    expect(compareTrees(src, replica)).toEqual([]);
    const text = read(log);
    expect(text).toMatch(/run stopped \(SIGTERM\) after \d+ passes: \d+ complete, 0 with failures, 0 interrupted, [1-9]\d* refused, 0 failed/);
    // Refusals are errors on the console too.
    expect(run.stderr()).toMatch(/^error: pass \d+ refused: /m);
  });

  it('a pass with failures (an unreadable file, as an unprivileged user) is logged and the loop goes on', async () => {
    const src = tempDir('fs-src-', { forUser: true });
    buildTree(src, { ok: 'fine', secret: 'hidden' });
    chmodSync(join(src, 'secret'), 0o000);
    giveToTestUser(src);
    const work = tempDir('fs-work-', { forUser: true });
    const replica = join(work, 'replica');
    const log = join(work, 'run.log');
    const run = startRun([src, replica, '1', 'second', log], { stateDir: tempDir('fs-state-', { forUser: true }), asUser: true });
    await waitFor('two passes', () => count(read(log), 'pass finished') >= 2, 20_000, run);
    const text = read(log);
    expect(text).toMatch(/ERROR failed file "secret": permission denied \(EACCES\)/);
    expect(text).toContain('WARN pass 1 finished with failures (see above); the next pass tries again');
    expect(existsSync(join(replica, 'ok'))).toBe(true);

    chmodSync(join(src, 'secret'), 0o644);
    await waitFor('the file to arrive', () => existsSync(join(replica, 'secret')), 20_000, run);
    run.child.kill('SIGTERM');
    expect((await run.exit).code, run.stderr()).toBe(0);
    expect(compareTrees(src, replica)).toEqual([]);
    expect(read(log)).toMatch(/run stopped \(SIGTERM\) after \d+ passes: [1-9]\d* complete, [2-9]\d* with failures/);
  });

  it('--log-format json: every line is a JSON object, with the start and stop lines marked', async () => {
    const src = buildTree(tempDir(), { f: 'x' });
    const log = join(tempDir(), 'run.jsonl');
    const run = startRun([src, join(tempDir(), 'replica'), '1', 'hour', log, '--log-format', 'json'], {
      stateDir: tempDir('fs-state-'),
    });
    await waitFor('pass 1', () => read(log).includes('"type":"summary"'), 20_000, run);
    run.child.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    const records = read(log)
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records[0]).toMatchObject({ level: 'info', type: 'note', run: 'started', intervalSeconds: 3600, source: src });
    expect(records.map((r) => r['type'])).toEqual(['note', 'start', 'op', 'op', 'summary', 'note', 'note']);
    expect(records.at(-2)).toMatchObject({ run: 'stopping', signal: 'SIGTERM' });
    expect(records.at(-1)).toMatchObject({ run: 'stopped', reason: 'SIGTERM', passes: 1, complete: 1 });
  });

  it('a log file that cannot be written (/dev/full) is reported and retried; the passes go on', async () => {
    const src = buildTree(tempDir(), { f: 'x' });
    const replica = join(tempDir(), 'replica');
    const run = startRun([src, replica, '1', 'second', '/dev/full'], { stateDir: tempDir('fs-state-') });
    await waitFor('three passes on the console', () => count(run.stdout(), 'pass finished') >= 3, 20_000, run);
    writeFileSync(join(src, 'g'), 'later');
    await waitFor('the new file', () => existsSync(join(replica, 'g')), 20_000, run);
    run.child.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    expect(compareTrees(src, replica)).toEqual([]);
    const failures = run
      .stderr()
      .match(/^error: the log file \/dev\/full can no longer be written: no space left on device \(ENOSPC\); retrying before each pass$/gm);
    expect(failures?.length).toBeGreaterThanOrEqual(2); // the first write, and again after a retry
    expect(run.stderr()).not.toContain('writable again'); // reopening works on /dev/full, writing does not
    expect(run.stdout()).toMatch(/run stopped \(SIGTERM\)/);
  });
});

describe('folder-sync run: bad input', () => {
  const cases: { name: string; args: (src: string, out: string) => string[]; message: RegExp }[] = [
    {
      name: 'an unknown unit',
      args: (s, o) => [s, join(o, 'r'), '5', 'fortnights', join(o, 'l.log')],
      message: /unit must be one of seconds, minutes, hours, days, weeks/,
    },
    {
      name: 'a zero interval',
      args: (s, o) => [s, join(o, 'r'), '0', 'minutes', join(o, 'l.log')],
      message: /interval must be a positive whole number, got "0"/,
    },
    {
      name: 'a fractional interval',
      args: (s, o) => [s, join(o, 'r'), '1.5', 'hours', join(o, 'l.log')],
      message: /interval must be a positive whole number/,
    },
    { name: 'a missing log file argument', args: (s, o) => [s, join(o, 'r'), '5', 'minutes'], message: /missing argument <log-file>/ },
    {
      name: 'a log file inside the source',
      args: (s, o) => [s, join(o, 'r'), '5', 'minutes', join(s, 'l.log')],
      message: /log file .* is inside the source/,
    },
    {
      name: 'a missing source',
      args: (_s, o) => [join(o, 'nope'), join(o, 'r'), '5', 'minutes', join(o, 'l.log')],
      message: /source folder does not exist/,
    },
    {
      name: 'the replica inside the source',
      args: (s, o) => [s, join(s, 'r'), '5', 'minutes', join(o, 'l.log')],
      message: /replica .* is inside the source/,
    },
    {
      name: 'an unknown flag',
      args: (s, o) => [s, join(o, 'r'), '5', 'minutes', join(o, 'l.log'), '--dry-run'],
      message: /unknown option "--dry-run"/,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: exit 2, one line, nothing created`, async () => {
      const src = buildTree(tempDir(), { f: 'x' });
      const out = tempDir();
      const r = await runCli(['run', ...c.args(src, out)]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(c.message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(readdirSync(out)).toEqual([]);
      expect(readdirSync(src)).toEqual(['f']);
    });
  }

  it('--help shows the arguments, the units, the defaults and an example', async () => {
    const r = await runCli(['run', '--help']);
    expect(r.code).toBe(0);
    for (const word of ['SOURCE', 'REPLICA', 'INTERVAL', 'UNIT', 'LOG-FILE', '--checksum', '--max-delete', '--log-format']) {
      expect(r.stdout).toContain(word);
    }
    expect(r.stdout).toContain('seconds, minutes, hours, days or weeks');
    expect(r.stdout).toMatch(/Defaults: /);
    expect(r.stdout).toMatch(/Example: folder-sync run \S+ \S+ \d+ \w+ \S+/);
  });
});
