import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error the bench is plain JavaScript (run by node directly), without type declarations
import { compareTrees } from '../bench/verify.mjs';
// @ts-expect-error as above
import { cronEnv, describeEnv } from '../bench/env.mjs';
// @ts-expect-error as above
import { Aside, RECENT_MS } from '../bench/aside.mjs';

const cache = mkdtempSync(join(tmpdir(), 'fs-bench-smoke-'));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

describe('bench (smoke mode, so the benchmark script cannot rot)', () => {
  it('runs every scenario on tiny trees, checks each replica, and prints the table', () => {
    const json = join(cache, 'results.json');
    const r = spawnSync(process.execPath, ['bench/run.mjs', '--smoke', '--cache', cache, '--json', json], {
      encoding: 'utf8',
      timeout: 90_000, // a hang guard only: the smoke run takes seconds
    });
    expect(r.stderr).not.toContain('FAILED');
    expect(r.status).toBe(0);
    const out = JSON.parse(readFileSync(json, 'utf8')) as {
      results: { id: string; complete: boolean; ratio: number; ratioFloor: number; floors: Record<string, number> }[];
      failures: string[];
      memoryMiB: { small: number };
      filters: { id: string }[];
    };
    expect(out.failures).toEqual([]);
    expect(out.results.map((x) => x.id)).toEqual([
      'initial-small',
      'initial-small-tmpfs',
      'noop-small',
      'incremental-small',
      'checksum-noop-small',
      'initial-large',
      'initial-large-tmpfs',
      'checksum-noop-large',
    ]);
    for (const x of out.results) {
      expect(x.complete).toBe(true);
      expect(x.ratio).toBeGreaterThan(0);
      // Every row measured its floor too (copies: cp -a and tar; no-op: two find walks; checksum: two tar reads).
      expect(Object.keys(x.floors).length).toBeGreaterThan(0);
      expect(x.ratioFloor).toBeGreaterThan(0);
    }
    // The small copies also against a bare Node copy through temporaries (bench/node-floor-copy.mjs), checked
    // like every floor that writes; the large ones against cp -a and tar only.
    expect(Object.keys(out.results[0]!.floors)).toEqual(['cp -a', 'tar c + tar x', 'node tmp+rename']);
    expect(Object.keys(out.results.find((x) => x.id === 'initial-large')!.floors)).toEqual(['cp -a', 'tar c + tar x']);
    expect(out.results.find((x) => x.id === 'noop-small')!.floors).toHaveProperty(['find x2']);
    // The incremental row also times the same work in a bare Node program (bench/node-floor-inc.mjs), whose
    // replica is checked like every other tool's (a floor that left differences would be a failed run above).
    expect(Object.keys(out.results.find((x) => x.id === 'incremental-small')!.floors)).toEqual(['find x2', 'node bare']);
    expect(r.stdout).toMatch(/^incremental, small over stale \[warm\], every floor: find x2 .*; node bare .* \(fs \/ it /m);
    expect(out.results.find((x) => x.id === 'checksum-noop-large')!.floors).toHaveProperty(['tar-read x2']);
    expect(out.memoryMiB.small).toBeGreaterThan(1);
    expect(r.stdout).toContain('| initial copy, small | disk, cold |');
    // The cold small copy's replicas are set aside, not deleted, before each run, and deleted after the row.
    expect(`${r.stdout}${r.stderr}`).toMatch(/^ {2}\(replicas set aside during the row deleted in \d+ s, untimed\)$/m);
    // The exclude-pattern rows of bench/filters.mjs are part of the same invocation.
    expect(out.filters.map((x) => x.id)).toEqual(['filter-noop-small', 'filter-noop-modules']);
    expect(r.stdout).toContain('Exclude patterns (folder-sync against itself');
    expect(r.stdout).toContain('| initial copy, small | tmpfs |');
    expect(r.stdout).toMatch(/^environment: cron's, as a scheduled pass runs \(/m);
  }, 100_000);

  it("the bench's independent tree check notices a changed byte, mtime, mode and an extra entry", () => {
    const a = join(cache, 'cmp-a');
    const b = join(cache, 'cmp-b');
    for (const d of [a, b]) {
      spawnSync('mkdir', ['-p', d]);
      writeFileSync(join(d, 'f'), 'hello');
      utimesSync(join(d, 'f'), 1_700_000_000, 1_700_000_000);
      utimesSync(d, 1_700_000_000, 1_700_000_000);
    }
    expect(compareTrees(a, b)).toEqual([]);
    writeFileSync(join(b, 'f'), 'hellO');
    utimesSync(join(b, 'f'), 1_700_000_000, 1_700_000_000);
    utimesSync(b, 1_700_000_000, 1_700_000_000);
    expect(compareTrees(a, b)).toEqual(['content differs: f']);
    expect(compareTrees(a, b, { bytes: false })).toEqual([]);
    utimesSync(join(b, 'f'), 1_700_000_001, 1_700_000_001);
    expect(compareTrees(a, b, { bytes: false })).toEqual(['mtime differs: f']);
    writeFileSync(join(b, 'extra'), '');
    utimesSync(b, 1_700_000_000, 1_700_000_000);
    expect(compareTrees(a, b, { bytes: false })).toContain('extra in replica: extra');
    spawnSync('chmod', ['600', join(b, 'f')]);
    expect(compareTrees(a, b, { bytes: false })).toContain('mode differs: f');
  });

  it('runs the tools with the environment cron gives a scheduled pass, not the shell’s', () => {
    const shell = {
      PATH: '/p',
      HOME: '/h',
      LOGNAME: 'u',
      NODE_EXTRA_CA_CERTS: '/certs',
      NODE_OPTIONS: '--x',
      FOLDER_SYNC_READ_AHEAD: '0',
      EDITOR: 'vi',
    };
    expect(cronEnv(shell)).toEqual({ SHELL: '/bin/sh', PATH: '/p', HOME: '/h', LOGNAME: 'u', FOLDER_SYNC_READ_AHEAD: '0' });
    expect(describeEnv(false, shell)).toMatch(/3 variable\(s\) of the shell's left out, among them NODE_EXTRA_CA_CERTS, NODE_OPTIONS/);
    expect(describeEnv(true, shell)).toMatch(/in full/);
  });

  it("thread-cpu.mjs reports every thread's CPU: a worker's as it ends, the rest at the process's exit", () => {
    // A worker from a file (Node gives `--import` to those, not to `eval` workers), busy on a loop.
    const busy = join(cache, 'busy-worker.mjs');
    writeFileSync(busy, 'let x = 0;\nfor (let i = 0; i < 3e7; i++) x += i;\n');
    const script = [
      "const { Worker } = require('node:worker_threads');",
      `const w = new Worker(${JSON.stringify(busy)});`,
      "w.on('exit', () => require('node:fs').stat('.', () => {}));", // the first async call starts libuv's pool
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', './bench/thread-cpu.mjs', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    const lines = r.stderr.trim().split('\n');
    // The worker's own line (it spent CPU on its loop), then main's, then the other threads' by thread id.
    const worker = lines.find((l) => l.startsWith('worker 1 '));
    expect(worker).toMatch(/cpu +\d+\.\d ms {2}waiting for a cpu +\d+\.\d ms {2}slices \d+$/);
    expect(Number(/cpu +([\d.]+)/.exec(worker!)![1])).toBeGreaterThan(0);
    expect(lines.filter((l) => l.startsWith('main '))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('thread ')).length).toBeGreaterThanOrEqual(4); // V8's platform threads at least
  });
});

describe('bench: the cold small copy sets each replica aside (bench/aside.mjs)', () => {
  it('moves a replica aside without freeing it, deletes all of them at once, then says how long to wait', () => {
    const root = mkdtempSync(join(tmpdir(), 'fs-bench-aside-'));
    try {
      const aside = new Aside(join(root, 'aside'));
      const replica = join(root, 'replica');
      for (let i = 0; i < 2; i++) {
        mkdirSync(replica);
        writeFileSync(join(replica, 'f'), String(i));
        aside.put(replica);
        expect(existsSync(replica)).toBe(false);
      }
      aside.put(replica); // nothing there: nothing to do
      expect(readdirSync(join(root, 'aside'))).toHaveLength(2);
      expect(aside.msToWait()).toBe(0); // nothing freed yet
      aside.clear();
      expect(existsSync(join(root, 'aside'))).toBe(false);
      expect(aside.removedAt).toBeGreaterThan(0);
      expect(aside.msToWait(aside.removedAt)).toBe(RECENT_MS); // right after the removal: the whole window
      expect(aside.msToWait(aside.removedAt + RECENT_MS)).toBe(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
