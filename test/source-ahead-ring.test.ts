/**
 * The source read-ahead's reader threads (issue 16, session 15; src/sync/source-ahead-ring.ts): the read-ahead's
 * walk queues names in a ring of shared memory, and READERS threads open and read them, each one file at a time.
 * Real threads here (the readers run from their source text, so the same code runs under the test runner).
 */
import { closeSync, constants, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTreeAhead, READ_BYTES } from '../src/sync/source-ahead-read.js';
import { testGate } from './_ahead-gate.js';
import { READERS, ReadRing, type RingName } from '../src/sync/source-ahead-ring.js';
import { repoCli } from './_cli.js';
import { buildTree, bytes, compareTrees, file, tempDir } from './_tree.js';

const opened: number[] = [];
const openFolder = (path: string): number => {
  const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  opened.push(fd);
  return fd;
};
const rings: ReadRing[] = [];
const ring = (readers?: number): ReadRing => {
  const r = ReadRing.start({ readBytes: READ_BYTES, ...(readers ? { readers } : {}) });
  if (!r) throw new Error('no reader threads');
  rings.push(r);
  return r;
};
afterAll(async () => {
  opened.forEach((fd) => closeSync(fd));
  await Promise.all(rings.map((r) => r.stop()));
});

const gate = testGate;

/** Descriptors open on something under `top` (the reader threads' own event loops hold others). */
const fdsUnder = (top: string): number =>
  readdirSync('/proc/self/fd').filter((n) => {
    try {
      return readlinkSync(`/proc/self/fd/${n}`).startsWith(top);
    } catch {
      return false; // closed meanwhile (readdir's own)
    }
  }).length;

describe('the read-ahead reader threads (issue 16, session 15)', () => {
  it('read every regular file the walk queues, never a link, FIFO or linked folder, and leave no descriptor open', async () => {
    const outside = buildTree(tempDir(), { 'secret.txt': file('outside') });
    const files = (tag: string, n: number): Record<string, ReturnType<typeof file>> =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`${tag}${i}.dat`, file(bytes(100 + i, i))]));
    // More files than the ring has slots, in folders three deep: the walk waits for room and closes each folder.
    const top = buildTree(tempDir(), { ...files('t', 40), a: { ...files('a', 40), b: { ...files('b', 40) } } });
    symlinkSync(join(outside, 'secret.txt'), join(top, 'link.txt'));
    symlinkSync(outside, join(top, 'linked-folder'));
    execFileSync('mkfifo', [join(top, 'fifo')]);
    const r = ring();
    const topFd = openFolder(top);
    expect(fdsUnder(top)).toBe(1); // the top's, the test's own
    expect(await readTreeAhead(topFd, gate(), { ring: r })).toBe(120);
    expect(r.read).toBe(120);
    expect(fdsUnder(top)).toBe(1); // every folder and file the walk and the readers opened is closed
  });

  it('open each name without following a link or waiting on a FIFO: a name swapped after its listing is skipped', async () => {
    const outside = buildTree(tempDir(), { 'secret.txt': file('outside') });
    const top = buildTree(tempDir(), { 'real.txt': file('r') });
    symlinkSync(join(outside, 'secret.txt'), join(top, 'swapped.txt'));
    execFileSync('mkfifo', [join(top, 'fifo')]);
    const fd = openFolder(top);
    const r = ring(1);
    let done = 0;
    const named = (name: string): RingName => ({ path: `/proc/self/fd/${fd}/${name}`, opened: () => void done++ });
    for (const name of ['swapped.txt', 'fifo', 'real.txt']) expect(await r.push(named(name))).toBe(true);
    await r.settle(false);
    expect(done).toBe(3);
    expect(r.read).toBe(1); // real.txt only: the link was not followed (ELOOP), the FIFO opened without waiting (and not read)
  });

  it('stay at most maxAhead files ahead of the pass, and go on as the pass comes', async () => {
    const top = buildTree(tempDir(), Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`f${i}.txt`, file(bytes(100, i))])));
    const g = gate(0);
    const r = ring();
    const reading = readTreeAhead(openFolder(top), g, { ring: r, maxAhead: 3 });
    await g.blocked; // three names queued, the fourth not
    for (let turn = 0; r.read < 3 && turn < 100_000; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(r.read).toBe(3);
    g.pass = 10;
    g.release();
    expect(await reading).toBe(10);
  });

  it('when the pass leaves the subtree, the walk stops queueing and returns', async () => {
    const top = buildTree(tempDir(), Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`f${i}.txt`, file('x')])));
    const g = gate(0);
    const r = ring();
    const reading = readTreeAhead(openFolder(top), g, { ring: r, maxAhead: 2 });
    await g.blocked;
    g.stop = true;
    g.release();
    expect(await reading).toBeLessThanOrEqual(2);
  });

  it('once the readers are stopped, every queued name is handed back and the walk reads through the pool instead', async () => {
    const top = buildTree(tempDir(), Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`f${i}.txt`, file('x')])));
    const fd = openFolder(top);
    const r = ring(1);
    await r.stop();
    expect(r.working).toBe(false);
    let done = 0;
    expect(await r.push({ path: `/proc/self/fd/${fd}/f0.txt`, opened: () => void done++ })).toBe(false);
    expect(done).toBe(1); // handed back at once: its folder may be closed
    const g = gate();
    expect(await readTreeAhead(openFolder(top), g, { ring: r, lanes: 1 })).toBe(5); // read on libuv's pool
  });

  it('are used only within the files’ half of the descriptors (maxOpen); below that the pool’s lanes read', async () => {
    const top = buildTree(tempDir(), Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`f${i}.txt`, file('x')])));
    const r = ring();
    expect(r.readers).toBe(READERS);
    expect(await readTreeAhead(openFolder(top), gate(), { ring: r, maxOpen: 2 * READERS - 2 })).toBe(4);
    expect(r.read).toBe(0); // not through the ring
    expect(await readTreeAhead(openFolder(top), gate(), { ring: r, maxOpen: 2 * READERS })).toBe(4);
    expect(r.read).toBe(4);
  });
});

describe('the reader threads, started and ended', () => {
  it('no ring without a reader (a count below 1 or not whole): its names would never be handed back', () => {
    for (const readers of [0, -1, 1.5]) expect(ReadRing.start({ readBytes: READ_BYTES, readers })).toBeUndefined();
  });

  it('`run`: a job that ends after the pass left its subtree has its top folder closed then, not at the next pass; stopped, `run` ends (review 15)', async () => {
    const src = buildTree(tempDir(), { dnew: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`f${i}.dat`, file(bytes(200, i))])) });
    const dst = join(tempDir(), 'replica');
    const log = join(tempDir(), 'run.log');
    // `late`: the reader's job ends only once the pass has left the subtree (deterministic: no timing).
    const env = { ...process.env, FOLDER_SYNC_SOURCE_AHEAD: '1', FOLDER_SYNC_TEST_SOURCE_AHEAD: 'late' };
    const child = spawn(process.execPath, [repoCli, 'run', src, dst, '1', 'hours', log, '--verbose'], { env, stdio: 'ignore' });
    const exited = new Promise<[number | null, string | null]>((r) => child.once('exit', (code, signal) => r([code, signal])));
    try {
      const onSource = (): number =>
        readdirSync(`/proc/${child.pid}/fd`).filter((n) => {
          try {
            return readlinkSync(`/proc/${child.pid}/fd/${n}`).startsWith(src);
          } catch {
            return false;
          }
        }).length;
      // Until the first pass has finished, then until nothing of the source is open (a bound, not a timing: without
      // the fix the top stays open until the next pass, an hour away).
      const deadline = Date.now() + 60_000;
      const finished = (): boolean => existsSync(log) && readFileSync(log, 'utf8').includes('pass finished');
      while (!finished() || onSource() > 0) {
        expect(Date.now(), `source still open: ${onSource()}`).toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(compareTrees(src, dst)).toEqual([]);
      // Stopped, it ends by itself: the read-ahead thread (unref'd, with its listener) keeps nothing alive.
      child.kill('SIGTERM');
      const bound = new Promise<string>((r) => setTimeout(() => r('still running 30 s after SIGTERM'), 30_000).unref());
      expect(await Promise.race([exited, bound])).toEqual([0, null]);
    } finally {
      // Never left behind: killed outright if it has not ended 30 s after its stop (a bound, not a timing).
      const hard = setTimeout(() => child.kill('SIGKILL'), 30_000);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      clearTimeout(hard);
    }
  }, 150_000);
});

describe('a reader thread on a name that is not a file', () => {
  it('a folder name is opened and its read fails: skipped, nothing counted', async () => {
    const top = mkdtempSync(join(tempDir(), 'd-'));
    buildTree(top, { sub: {} });
    const fd = openFolder(top);
    const r = ring(1);
    let done = 0;
    expect(await r.push({ path: `/proc/self/fd/${fd}/sub`, opened: () => void done++ })).toBe(true);
    await r.settle(false);
    expect([done, r.read]).toEqual([1, 0]);
  });
});
