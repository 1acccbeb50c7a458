/**
 * The replica lock: one pass per replica, exit 75 for the second, a killed holder never blocks, different
 * replicas run in parallel. Real processes (the built CLI, and a small holder that takes the real ReplicaLock).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BusyError } from '../src/errors.js';
import { isLocked, lockPath, readLock, ReplicaLock } from '../src/sync/lock.js';
import { holdLock, repoCli, runCli } from './_cli.js';
import { heldLog, LINES_TO_HOLD } from './_held-log.js';
import { buildTree, compareTrees, tempDir } from './_tree.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

function setup(): { src: string; rep: string; log: string; state: string } {
  const base = tempDir();
  mkdirSync(join(base, 'src'));
  const src = buildTree(join(base, 'src'), { a: 'one', d: { b: 'two' } });
  return { src, rep: join(base, 'rep'), log: join(base, 'pass.log'), state: join(base, 'state') };
}

describe('one pass per replica', () => {
  it('a second pass while one runs logs "another pass is running" and exits 75 at once; the first completes', async () => {
    const { src, rep, log, state } = setup();
    // More log lines than an unread FIFO takes (see _held-log.ts): the first pass cannot end, nor release its
    // lock, until the test drains its log, so catching it holding the lock is certain rather than a race.
    const many: Record<string, string> = {};
    for (let i = 0; i < LINES_TO_HOLD; i++) many[`f${i}`] = `file ${i}`;
    buildTree(src, { many });
    const held = heldLog();
    const env = { ...process.env, FOLDER_SYNC_STATE_DIR: state };
    const first = spawn(process.execPath, [repoCli, 'sync-once', src, rep, '--log', held.path], { env, stdio: 'ignore' });
    children.push(first);
    const locks = join(state, 'locks');
    const deadline = Date.now() + 20_000;
    while (!(existsSync(locks) && readdirSync(locks).some((n) => n.endsWith('.lock')))) {
      expect(first.exitCode, 'the first pass ended while its log was not read').toBeNull();
      expect(Date.now(), 'the first pass never took its lock').toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 5));
    }
    // "At once": the first pass holds the lock until its log is drained, after the second pass ended, so a second
    // pass that waited for the lock could never end (it would be killed at the CLI's timeout, with no exit code).
    // Its exit 75 proves it gave up without waiting.
    const second = await runCli(['sync-once', src, rep, '--log', log], { env: { FOLDER_SYNC_STATE_DIR: state } });
    const firstLog = held.drain();
    expect(second.code, second.stderr).toBe(75);
    expect(second.stderr).toMatch(/^folder-sync: another pass is running on .*rep \(pid \d+, since /);
    expect(await exited(first)).toBe(0);
    expect(await firstLog).toMatch(/INFO pass finished: created 4005, updated 0, removed 0, failed 0, /);
    const text = readFileSync(log, 'utf8');
    expect(text.match(/pass skipped: another pass is running/g)).toHaveLength(1);
    expect(compareTrees(src, rep)).toEqual([]);
    expect(readdirSync(locks).filter((n) => n.endsWith('.lock'))).toEqual([]); // released
  });

  it('a holder killed with kill -9 does not block the next pass', async () => {
    const { src, rep, log, state } = setup();
    mkdirSync(rep);
    const holder = await holdLock(realpathSync(rep), state);
    const busy = await runCli(['sync-once', src, rep, '--log', log], { env: { FOLDER_SYNC_STATE_DIR: state } });
    expect(busy.code).toBe(75);
    holder.kill('SIGKILL');
    await exited(holder);
    expect(readLock(lockPath(realpathSync(rep), state))?.pid).toBe(holder.pid); // the lock file is still there
    const next = await runCli(['sync-once', src, rep, '--log', log], { env: { FOLDER_SYNC_STATE_DIR: state } });
    expect(next.code, next.stderr).toBe(0);
    expect(compareTrees(src, rep)).toEqual([]);
    expect(existsSync(lockPath(realpathSync(rep), state))).toBe(false);
  });

  it('passes on different replicas run in parallel', async () => {
    const { src, rep, log, state } = setup();
    mkdirSync(rep);
    await holdLock(realpathSync(rep), state);
    const other = join(dirname(rep), 'other');
    const [a, b] = await Promise.all([
      runCli(['sync-once', src, other, '--log', log], { env: { FOLDER_SYNC_STATE_DIR: state } }),
      runCli(['sync-once', src, `${other}2`, '--log', `${log}2`], { env: { FOLDER_SYNC_STATE_DIR: state } }),
    ]);
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
    expect(compareTrees(src, other)).toEqual([]);
    expect(compareTrees(src, `${other}2`)).toEqual([]);
  });

  it('the lock lives in the state folder, never in the source or the replica', async () => {
    const { src, rep, state } = setup();
    const r = await runCli(['sync-once', src, rep], { env: { FOLDER_SYNC_STATE_DIR: state } });
    expect(r.code).toBe(0);
    expect(lockPath(realpathSync(rep), state).startsWith(join(state, 'locks'))).toBe(true);
    expect(compareTrees(src, rep)).toEqual([]); // nothing extra in the replica
  });
});

describe('ReplicaLock in one process', () => {
  const fresh = (): { dir: string; replica: string } => ({ dir: tempDir(), replica: join(tempDir(), 'replica') });

  it('a second lock on the same replica is busy; release lets the next one in; other replicas are free', () => {
    const { dir, replica } = fresh();
    const a = new ReplicaLock(replica, 'sync-once', dir);
    a.acquire();
    expect(() => new ReplicaLock(replica, 'sync-once', dir).acquire()).toThrow(BusyError);
    new ReplicaLock(`${replica}-2`, 'sync-once', dir).acquire();
    expect(isLocked(replica, dir)?.pid).toBe(process.pid);
    a.release();
    expect(isLocked(replica, dir)).toBeUndefined();
    new ReplicaLock(replica, 'sync-once', dir).acquire();
  });

  it('records mode and optional source/log for list', () => {
    const { dir, replica } = fresh();
    new ReplicaLock(replica, 'run', dir, { source: '/s', log: '/l' }).acquire();
    expect(readLock(lockPath(replica, dir))).toMatchObject({ pid: process.pid, host: hostname(), replica, mode: 'run', source: '/s', log: '/l' });
  });

  const debris: [string, string | ((path: string) => string)][] = [
    ['a record without a pid', JSON.stringify({ host: hostname(), replica: 'x', startedAt: 'y' })],
    ['pid 0 (would signal our own process group)', JSON.stringify({ pid: 0, host: hostname(), replica: 'x', startedAt: 'y' })],
    ['a string pid', JSON.stringify({ pid: '1', host: hostname(), replica: 'x', startedAt: 'y' })],
    ['not JSON', '{"pid": 12'],
    ['null', 'null'],
    ['an empty file', ''],
  ];
  for (const [label, content] of debris) {
    it(`a lock file with ${label}, older than 2 s, is taken over`, () => {
      const { dir, replica } = fresh();
      const path = lockPath(replica, dir);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, typeof content === 'string' ? content : content(path));
      const old = new Date(Date.now() - 5_000);
      utimesSync(path, old, old);
      new ReplicaLock(replica, 'sync-once', dir).acquire();
      expect(readLock(path)?.pid).toBe(process.pid);
    });
  }

  it('a lock file being written right now (empty, under 2 s old) counts as busy', () => {
    const { dir, replica } = fresh();
    const path = lockPath(replica, dir);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, '');
    expect(() => new ReplicaLock(replica, 'sync-once', dir).acquire()).toThrow(/another pass is running/);
  });

  it('a live pid whose start time differs (the pid was recycled) is not the holder', () => {
    const { dir, replica } = fresh();
    const path = lockPath(replica, dir);
    mkdirSync(dirname(path), { recursive: true });
    // pid 1 is alive, but it did not start at tick 1 after boot... unless it did; use an impossible start time.
    writeFileSync(path, JSON.stringify({ pid: 1, host: hostname(), replica, startedAt: 'x', procStart: '-1' }));
    new ReplicaLock(replica, 'sync-once', dir).acquire();
    expect(readLock(path)?.pid).toBe(process.pid);
  });

  it('a live holder with its real start time is respected', () => {
    const { dir, replica } = fresh();
    const path = lockPath(replica, dir);
    mkdirSync(dirname(path), { recursive: true });
    const stat = readFileSync('/proc/1/stat', 'utf8');
    const procStart = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    writeFileSync(path, JSON.stringify({ pid: 1, host: hostname(), replica, startedAt: 'x', procStart }));
    expect(() => new ReplicaLock(replica, 'sync-once', dir).acquire()).toThrow(/another pass is running on .* \(pid 1, since x\)/);
  });

  it('release never removes a lock that another process took', () => {
    const { dir, replica } = fresh();
    const a = new ReplicaLock(replica, 'sync-once', dir);
    a.acquire();
    const path = lockPath(replica, dir);
    writeFileSync(path, JSON.stringify({ pid: 1, host: hostname(), replica, startedAt: 'x' }));
    a.release();
    expect(readLock(path)?.pid).toBe(1);
  });
});
