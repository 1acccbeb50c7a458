/**
 * Issue 16: copies that outlast their folder's walk (src/sync/copy-pipeline.ts). The queue's rules with stand-in
 * batches, then whole passes through the CLI where the helper gets each batch only when the pass comes back for
 * it (FOLDER_SYNC_TEST_COPY_LATE=1: every batch is still under way while the walk goes on), compared with passes
 * that copy everything on one thread.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CopyPipeline, MAX_QUEUED, type Settling } from '../src/sync/copy-pipeline.js';
import { runCli } from './_cli.js';
import { buildTree, compareTrees, tempDir, type Spec } from './_tree.js';

/** A stand-in batch: records when it was helped and settled; `fail` makes its settle throw. */
function batch(name: string, events: string[], opts: { ready?: boolean; fail?: Error } = {}): Settling {
  let ready = opts.ready ?? false;
  return {
    ready: () => ready,
    help: () => {
      events.push(`help ${name}`);
      ready = true;
    },
    settle: async (stopping) => {
      events.push(`settle ${name}${stopping ? ' (stopping)' : ''}`);
      if (opts.fail) throw opts.fail;
    },
  };
}

describe('the copy pipeline', () => {
  it('runs what comes after a batch only once the batch is settled, in the order asked', async () => {
    const pipe = new CopyPipeline();
    const events: string[] = [];
    await pipe.after(() => {
      events.push('now'); // nothing queued: at once
    });
    expect(pipe.holding).toBe(false);
    pipe.add(batch('A', events));
    expect(pipe.holding).toBe(true);
    expect(pipe.hold(() => events.push('line 1'))).toBe(true);
    await pipe.after(() => {
      events.push('end of A');
    });
    pipe.add(batch('B', events));
    expect(pipe.hold(() => events.push('line 2'))).toBe(true);
    expect(events).toEqual(['now']);
    await pipe.flush();
    expect(events).toEqual(['now', 'settle A', 'line 1', 'end of A', 'settle B', 'line 2']);
    expect(pipe.holding).toBe(false);
    expect(pipe.hold(() => events.push('not held'))).toBe(false);
  });

  it('makes room by helping the oldest batches, and settles batches already finished', async () => {
    const pipe = new CopyPipeline();
    const events: string[] = [];
    pipe.add(batch('A', events));
    pipe.add(batch('B', events));
    pipe.add(batch('C', events));
    await pipe.room(3);
    expect(events).toEqual([]); // room enough, none finished
    await pipe.room(2);
    expect(events).toEqual(['help A', 'settle A']);
    expect(pipe.underWay).toBe(2);
    pipe.add(batch('D', events, { ready: true }));
    await pipe.room(3);
    expect(events).toEqual(['help A', 'settle A']); // B is not finished, and D waits behind it
    await pipe.room(0);
    expect(events).toEqual(['help A', 'settle A', 'help B', 'settle B', 'help C', 'settle C', 'settle D']);
  });

  it('a batch that fails: the rest are still settled (without copying more), then the error is thrown', async () => {
    const pipe = new CopyPipeline();
    const events: string[] = [];
    const full = new Error('disk full');
    pipe.add(batch('A', events, { fail: full }));
    await pipe.after(() => {
      events.push('close A');
    });
    pipe.add(batch('B', events));
    await expect(pipe.flush()).rejects.toBe(full);
    expect(events).toEqual(['settle A', 'close A', 'settle B (stopping)']);
    expect(pipe.underWay).toBe(0);
  });

  it('never queues more than MAX_QUEUED things: the batches are settled first', async () => {
    const pipe = new CopyPipeline();
    const events: string[] = [];
    pipe.add(batch('A', events));
    for (let i = 0; i < MAX_QUEUED + 5; i++) {
      await pipe.after(() => {
        events.push(`close ${i}`);
      });
      expect(pipe.queued).toBeLessThanOrEqual(MAX_QUEUED);
    }
    expect(events[0]).toBe('help A');
    expect(events[1]).toBe('settle A');
    expect(events.filter((e) => e.startsWith('close'))).toHaveLength(MAX_QUEUED + 5);
  });
});

describe('passes whose batches are settled after the walk moved on (FOLDER_SYNC_TEST_COPY_LATE=1)', () => {
  const late = { FOLDER_SYNC_TEST_COPY_LATE: '1' };
  const alone = { FOLDER_SYNC_COPY_THREAD: '0' };
  const ops = (out: string): string[] => out.split('\n').filter((l) => /^(created|updated|removed|skipped|failed) /.test(l));

  /** Nested folders of 10 files each (a batch each), some read-only, some empty, some holding only subfolders. */
  function nested(depth: number, width: number, tag = 'd'): Spec {
    const spec: Spec = {};
    for (let i = 0; i < 10; i++) spec[`f${i}.txt`] = `${tag} file ${i} `.repeat(i + 1);
    if (depth > 0) for (let w = 0; w < width; w++) spec[`${tag}${w}`] = nested(depth - 1, width, `${tag}${w}`);
    spec['empty'] = {};
    return spec;
  }

  it('logs in the same order and leaves the same replica (folder modes and times too) as one thread', async () => {
    const src = buildTree(tempDir('fs-cpl-src-'), nested(3, 3));
    // Read-only folders: their mode is set after their files are in, or the files could not be written.
    for (const ro of ['d0', 'd1/d10', 'd2/d21/d212']) chmodSync(join(src, ro), 0o555);
    const a = join(tempDir('fs-cpl-a-'), 'rep');
    const b = join(tempDir('fs-cpl-b-'), 'rep');
    const withLate = await runCli(['sync-once', src, a, '--verbose'], { env: late });
    const oneThread = await runCli(['sync-once', src, b], { env: alone });
    expect(withLate.code, withLate.stderr).toBe(0);
    expect(oneThread.code, oneThread.stderr).toBe(0);
    expect(withLate.stdout + withLate.stderr).toMatch(/copied \d+ new files in \d+ batches on two cores/);
    expect(compareTrees(src, a)).toEqual([]);
    expect(ops(withLate.stdout)).toEqual(ops(oneThread.stdout));
    expect(ops(withLate.stdout).length).toBeGreaterThan(400);
    for (const ro of ['d0', 'd1/d10', 'd2/d21/d212']) chmodSync(join(src, ro), 0o755);
    // A second pass with everything at once: new folders (batches), a removed one, edited and removed files.
    rmSync(join(src, 'd1', 'd11'), { recursive: true });
    rmSync(join(src, 'd2', 'f3.txt'));
    writeFileSync(join(src, 'd0', 'f1.txt'), 'edited');
    for (const [at, spec] of [
      [join(src, 'd2', 'new'), nested(1, 2, 'n')],
      [join(src, 'd0', 'd00', 'new'), nested(0, 0, 'm')],
    ] as const) {
      mkdirSync(at);
      buildTree(at, spec);
    }
    const again = await runCli(['sync-once', src, a], { env: late });
    const againAlone = await runCli(['sync-once', src, b], { env: alone });
    expect(again.code, again.stderr).toBe(0);
    expect(againAlone.code, againAlone.stderr).toBe(0);
    expect(compareTrees(src, a)).toEqual([]);
    expect(ops(again.stdout)).toEqual(ops(againAlone.stdout));
    expect(ops(again.stdout).filter((l) => l.startsWith('removed'))).not.toEqual([]);
  });

  it("with --verbose, the filter's lines come in their place among the copies' lines, as on one thread", async () => {
    const spec: Spec = {};
    for (const d of ['a', 'b', 'c']) {
      const folder: Spec = { 'skip.tmp': 'excluded' };
      for (let i = 0; i < 10; i++) folder[`f${i}.txt`] = `${d} ${i}`;
      spec[d] = folder;
    }
    const src = buildTree(tempDir('fs-cpl-src-'), spec);
    const lines = (out: string): string[] => out.split('\n').filter((l) => /^(created file|excluded|debug: excluded)|excluded "/.test(l));
    const a = await runCli(['sync-once', src, join(tempDir('fs-cpl-a-'), 'rep'), '--verbose', '--exclude', '*.tmp'], { env: late });
    const b = await runCli(['sync-once', src, join(tempDir('fs-cpl-b-'), 'rep'), '--verbose', '--exclude', '*.tmp'], { env: alone });
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const seen = lines(a.stdout + a.stderr);
    expect(seen.filter((l) => l.includes('excluded'))).toHaveLength(3);
    expect(seen).toEqual(lines(b.stdout + b.stderr));
  });

  // Also on one thread: the pass sees the signal at its next step (PassReport.breathe's two turns of the event loop).
  it.each([
    ['with batches under way', late],
    ['on one thread', alone],
  ])('`run` stopped by SIGTERM %s: what was handed over is finished and logged, nothing after, nothing torn', async (_, mode) => {
    // Five folders of new files (a batch each, all still under way in late mode), then a folder whose 4 MiB file
    // the pass copies itself (past a batch's file size) before 20 small ones: SIGTERM arrives while the big one is
    // read (test/_mid-copy.mjs), so the pass stops right after it (as in run-cli.test.ts, without batches).
    const spec: Spec = {};
    for (const d of ['a', 'b', 'c', 'd', 'e']) spec[d] = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`f${i}`, `${d} ${i}`]));
    spec['m'] = {
      big: 'x'.repeat(4 * 1024 * 1024),
      ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`zz-${String(i).padStart(2, '0')}`, `z ${i}`])),
    };
    const src = buildTree(tempDir('fs-cpl-src-'), spec);
    const dst = join(tempDir('fs-cpl-dst-'), 'rep');
    const log = join(tempDir('fs-cpl-log-'), 'run.log');
    const big = join(src, 'm', 'big');
    const hook = { NODE_OPTIONS: `--import ${join(import.meta.dirname, '_mid-copy.mjs')}`, FOLDER_SYNC_TEST_MID_COPY: `sigterm:${big}` };
    const r = await runCli(['run', src, dst, '1', 'hours', log], { env: { ...mode, ...hook } });
    expect(r.stderr).toContain(`test hook: sigterm ${big} (1)`);
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(log, 'utf8');
    expect(text).toMatch(/pass stopped: the pass was interrupted/);
    const created = text
      .split('\n')
      .map((l) => l.match(/created file "([^"]+)"/)?.[1])
      .filter((p): p is string => p !== undefined);
    const present: string[] = [];
    for (const d of readdirSync(dst)) for (const f of readdirSync(join(dst, d))) present.push(`${d}/${f}`);
    expect(present.filter((n) => n.includes('.folder-sync'))).toEqual([]);
    // Every batch handed over before the stop is finished and logged, in plan order; the big file is whole.
    const expected = ['a', 'b', 'c', 'd', 'e'].flatMap((d) => Array.from({ length: 10 }, (_, i) => `${d}/f${i}`));
    expect(created).toEqual([...expected, 'm/big']);
    // The stop's line comes after the lines of every file finished before it, as on one thread (sayInPassOrder).
    const lines = text.split('\n');
    const stopping = lines.findIndex((l) => l.includes('SIGTERM received: stopping after the current file'));
    expect(stopping).toBeGreaterThan(lines.findLastIndex((l) => l.includes('created file')));
    expect(stopping).toBeLessThan(lines.findIndex((l) => l.includes('pass stopped')));
    expect(present.sort()).toEqual([...expected, 'm/big'].sort());
    expect(lstatSync(join(dst, 'm', 'big')).size).toBe(4 * 1024 * 1024);
    expect(compareTrees(src, dst, { ignore: (p) => p === '.' || p.startsWith('m') })).toEqual([]);
  });

  it('holds no more than a few handles open whatever the number of folders walked behind a batch', async () => {
    // One batch, then 600 folders (each held open until its metadata is set, which waits behind the batch):
    // under a limit of 256 open files a queue without bound fails with EMFILE.
    const spec: Spec = { a: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, `file ${i}`])) };
    for (let i = 0; i < 600; i++) spec[`z${String(i).padStart(3, '0')}`] = { only: `x${i}` };
    const src = buildTree(tempDir('fs-cpl-src-'), spec);
    const dst = join(tempDir('fs-cpl-dst-'), 'rep');
    const r = await runCli(['sync-once', src, dst], { env: late, openFiles: 256 });
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it('a pass stopped by a full disk: what was copied is logged, nothing is left behind, the exit code says so', async () => {
    // Needs a small file system: a 4 MiB tmpfs (root only).
    const mnt = tempDir('fs-cpl-full-');
    const { execFileSync } = await import('node:child_process');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt]);
    try {
      const spec: Spec = {};
      for (let d = 0; d < 6; d++) {
        const folder: Spec = {};
        for (let i = 0; i < 20; i++) folder[`f${i}`] = 'x'.repeat(64 * 1024);
        spec[`d${d}`] = folder;
      }
      const src = buildTree(tempDir('fs-cpl-src-'), spec);
      const dst = join(mnt, 'rep');
      const r = await runCli(['sync-once', src, dst], { env: late });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/pass stopped: the replica's disk is full/);
      const logged = ops(r.stdout)
        .filter((l) => l.startsWith('created file'))
        .map((l) => l.match(/"([^"]+)"/)?.[1]);
      const present: string[] = [];
      for (const d of readdirSync(dst)) for (const f of readdirSync(join(dst, d))) present.push(`${d}/${f}`);
      expect(present.filter((n) => n.includes('.folder-sync'))).toEqual([]);
      expect(present.sort()).toEqual([...logged].sort());
      for (const p of present) expect(lstatSync(join(dst, p)).size).toBe(64 * 1024);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
