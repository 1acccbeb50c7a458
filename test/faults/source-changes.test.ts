/**
 * Fault: the source (or the replica) changes while a pass runs. A file that grows, shrinks or is rewritten
 * during its copy is never installed as a mix: the copy is re-checked (size, mtime) and retried once, else
 * reported as failed (exit 1) and fixed by the next pass. The change mid-copy is made at an exact point of the copy
 * (after its first block) by a preload in the pass itself, so it lands however fast or busy the machine is. Entries that vanish mid-pass, on either side, are
 * skipped with a warning, never a crash.
 */
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogObject } from 'consola';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger, formatEvent, type LogEvent } from '../../src/log.js';
import { syncOnce } from '../../src/sync/sync-once.js';
import { runCli } from '../_cli.js';
import { buildTree, compareTrees, snapshotTree, tempDir } from '../_tree.js';
import { tempsIn } from './_faults.js';

beforeAll(() => {
  process.env['FOLDER_SYNC_STATE_DIR'] = tempDir('fs-state-');
});

/** A logger that records every line and lets a test act on the file system right after a given event. */
function hookedLogger(onEvent: (event: LogEvent) => void = () => {}): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger([
    {
      log(obj: LogObject) {
        const event = obj['event'] as LogEvent | undefined;
        lines.push(`${obj.type} ${event ? formatEvent(event) : obj.args.join(' ')}`);
        if (event) onEvent(event);
      },
    },
  ]);
  return { logger, lines };
}

/** Preload that makes the pass change a source file right after the first block of each copy of it (see the file). */
const midCopy = join(import.meta.dirname, '..', '_mid-copy.mjs');

describe('a file that changes while it is copied', () => {
  for (const how of ['grow', 'shrink', 'rewrite'] as const) {
    it(`${how}: never installed as a mix; reported failed (exit 1); the next pass fixes it`, async () => {
      const src = tempDir('fs-chg-src-');
      const dst = tempDir('fs-chg-dst-');
      // Uniform content (all A), so a mix of two versions is visible as a file that is not uniform. Four blocks
      // of the copy loop: the change lands after the first, with more of the file still to read.
      buildTree(src, { moving: Buffer.alloc(4 << 20, 0x41), still: 'still' });
      const moving = join(src, 'moving');
      const r = await runCli(['sync-once', src, dst], {
        env: { NODE_OPTIONS: `--import ${midCopy}`, FOLDER_SYNC_TEST_MID_COPY: `${how}:${moving}` },
      });
      // Changed during the copy and again during the one retry: nothing else can be installed.
      expect(r.stderr.match(/^test hook: .*$/gm)).toEqual([`test hook: ${how} ${moving} (1)`, `test hook: ${how} ${moving} (2)`]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/failed file "moving": the file changed while it was copied/);
      expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
      expect(tempsIn(dst)).toEqual([]);
      expect(readFileSync(join(dst, 'still'), 'utf8')).toBe('still');
      // Never a mix: absent (a new file that failed) or, were it installed, one uniform version.
      const snap = snapshotTree(dst);
      if (snap.has('moving')) {
        const data = readFileSync(join(dst, 'moving'));
        expect(data.every((byte) => byte === data[0])).toBe(true);
      }
      const next = await runCli(['sync-once', src, dst]);
      expect(next.code, next.stderr).toBe(0);
      expect(compareTrees(src, dst)).toEqual([]);
    });
  }

  it('changed once between the listing and the copy: detected, copied again, the new version installed', async () => {
    const src = tempDir('fs-chg-src-');
    const dst = tempDir('fs-chg-dst-');
    buildTree(src, { a: 'first', b: 'old version' });
    const { logger, lines } = hookedLogger((e) => {
      if (e.type === 'op' && e.path === 'a') writeFileSync(join(src, 'b'), 'the new, longer version');
    });
    const result = await syncOnce(src, dst, { logger });
    expect(result.exitCode).toBe(0);
    expect(readFileSync(join(dst, 'b'), 'utf8')).toBe('the new, longer version');
    expect(lines.join('\n')).toMatch(/"b" changed during the copy; copied again/);
    expect(compareTrees(src, dst)).toEqual([]);
  });
});

describe('entries that vanish mid-pass', () => {
  it('source file, folder and link vanish after the listing: skipped with a warning, no crash; the next pass mirrors the loss', async () => {
    const src = tempDir('fs-van-src-');
    const dst = tempDir('fs-van-dst-');
    buildTree(src, { a: 'a', b: 'b', c: { deep: { x: 'x' } }, d: 'd', e: { y: 'y' } });
    symlinkSync('a', join(src, 'f'));
    const { logger, lines } = hookedLogger((e) => {
      if (e.type === 'op' && e.path === 'a') {
        rmSync(join(src, 'b'));
        rmSync(join(src, 'c'), { recursive: true });
        rmSync(join(src, 'e', 'y')); // before e is listed: simply not there
      }
    });
    const result = await syncOnce(src, dst, { logger });
    expect(lines.filter((l) => l.startsWith('error'))).toEqual([]);
    expect(lines).toContain('warn skipped file "b": vanished while the pass ran');
    expect(lines).toContain('warn skipped dir "c": vanished while the pass ran');
    expect(result.exitCode).toBe(0);
    expect(result.skipped).toBe(2);
    expect(tempsIn(dst)).toEqual([]);
    const next = await syncOnce(src, dst, { logger: hookedLogger().logger });
    expect(next.exitCode).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it('replica entries vanish mid-pass (removed by someone else): skipped with a warning, no crash', async () => {
    const src = tempDir('fs-van-src-');
    const dst = tempDir('fs-van-dst-');
    buildTree(src, { a: 'a', m: { n: 'n' }, z: 'z' });
    // `a` is new, so "created a" is logged as it is made, before the walk goes on. (An update's line comes once its
    // rename, made beside the walk, is settled (walk-late.ts): after the walk wrote into `m`, so removing `m` then
    // is a folder gone under the pass, reported as failed, not an entry that vanished before it got there.)
    buildTree(dst, { k: 'extra file', l: { deep: { x: 'extra' } }, m: { n: 'old' } });
    const { logger, lines } = hookedLogger((e) => {
      if (e.type === 'op' && e.path === 'a') {
        rmSync(join(dst, 'k'));
        rmSync(join(dst, 'l'), { recursive: true });
        rmSync(join(dst, 'm'), { recursive: true });
      }
    });
    const result = await syncOnce(src, dst, { logger });
    expect(lines.filter((l) => l.startsWith('error'))).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect(lines.some((l) => /^warn skipped .*vanished while the pass ran/.test(l))).toBe(true);
    expect(tempsIn(dst)).toEqual([]);
    const next = await syncOnce(src, dst, { logger: hookedLogger().logger });
    expect(next.exitCode).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it('the whole source folder of a subtree is replaced by a file mid-pass: no crash, fixed next pass', async () => {
    const src = tempDir('fs-van-src-');
    const dst = tempDir('fs-van-dst-');
    buildTree(src, { a: 'a', s: { t: 't', u: 'u' } });
    const { logger, lines } = hookedLogger((e) => {
      if (e.type === 'op' && e.path === 'a') {
        rmSync(join(src, 's'), { recursive: true });
        writeFileSync(join(src, 's'), 'now a file');
      }
    });
    const result = await syncOnce(src, dst, { logger });
    expect(result.exitCode === 0 || result.exitCode === 1).toBe(true);
    expect(lines.join('\n')).not.toMatch(/unexpected/);
    expect(tempsIn(dst)).toEqual([]);
    mkdirSync(join(dst, 'unrelated'));
    const next = await syncOnce(src, dst, { logger: hookedLogger().logger });
    expect(next.exitCode).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
  });
});
