import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const cli = pathToFileURL(resolve(import.meta.dirname, '..', 'dist', 'cli.js')).href;
const dist = (file: string): string => JSON.stringify(pathToFileURL(resolve(import.meta.dirname, '..', 'dist', file)).href);

/**
 * The young generation's size after a workload that makes V8 grow it (many short-lived objects, a share of
 * them surviving each scavenge), in a fresh node process that first runs `prelude`.
 */
function newSpaceAfterWork(prelude: string): { newSpace: number; stdout: string } {
  const script = `${prelude}
const v8 = await import('node:v8');
let keep = [];
for (let i = 0; i < 2e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 50000) keep = []; }
const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
process.stdout.write('NEW_SPACE ' + space.space_size + '\\n');`;
  // Run from a file, as the CLI runs: with `-e` the worker threads inherit `--input-type`, and the flag reset
  // that comes with their start could not be undone in that case (measured; src/heap.ts).
  const file = join(mkdtempSync(join(tmpdir(), 'fs-heap-')), 'work.mjs');
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const m = /NEW_SPACE (\d+)/.exec(r.stdout);
  expect(m).not.toBeNull();
  return { newSpace: Number(m![1]), stdout: r.stdout };
}

describe('the CLI keeps V8 young generation small (peak RSS of long passes)', () => {
  it('without the flag, the workload grows the young generation past 8 MiB', () => {
    expect(newSpaceAfterWork('').newSpace).toBeGreaterThan(8 << 20);
  });

  it('the built CLI sets the flag at start, and it takes effect at run time: the young generation stays at 4 MiB or less', () => {
    const { newSpace, stdout } = newSpaceAfterWork(
      `process.argv.splice(1, Infinity, 'folder-sync', '--version'); await import(${JSON.stringify(cli)});`,
    );
    expect(stdout).toMatch(/^\d+\.\d+\.\d+\n/); // the CLI really ran (and printed its version)
    expect(newSpace).toBeLessThanOrEqual(4 << 20);
  });

  // Starting a worker thread resets V8's flags for the whole process once the worker's isolate is made: the
  // helper threads set the CLI's flags again as they start (src/heap.ts).
  const startsLookAhead = (lookAheadFlags: string): string => `
const { keepYoungGenerationSmall } = await import(${dist('heap.js')});
const { LookAhead } = await import(${dist('sync/lookahead.js')});
const { defaultCapabilities } = await import(${dist('sync/capabilities.js')});
const { lstatSync, mkdtempSync } = await import('node:fs');
keepYoungGenerationSmall();
const dir = mkdtempSync('/tmp/fs-heap-');
const st = lstatSync(dir, { bigint: true });
const id = { dev: st.dev, ino: st.ino };
const ahead = LookAhead.start({ source: dir, replica: dir, sourceId: id, replicaId: id, caps: defaultCapabilities('ext4'), srcLocalTime: false, owners: false, checksum: false }, true);
if (!ahead) throw new Error('no look-ahead thread');
${lookAheadFlags}
await ahead.wholeWalk(); // the thread has run (its isolate is made, and the flags reset)
`;

  it('after a helper thread starts, the young generation still stays at 4 MiB or less', () => {
    expect(newSpaceAfterWork(startsLookAhead('')).newSpace).toBeLessThanOrEqual(4 << 20);
  });

  it('(the reset itself: after a plain worker thread starts, the young generation grows past 8 MiB again)', () => {
    const prelude = `
const { keepYoungGenerationSmall } = await import(${dist('heap.js')});
const { Worker } = await import('node:worker_threads');
const { once } = await import('node:events');
keepYoungGenerationSmall();
const w = new Worker('setTimeout(() => {}, 60000)', { eval: true });
await once(w, 'online');
w.unref();
`;
    expect(newSpaceAfterWork(prelude).newSpace).toBeGreaterThan(8 << 20);
  });
});
