import { readFileSync, writeFileSync, mkdirSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEMO_DEFAULTS,
  DEMO_MARKER,
  demoFileContent,
  LARGE_FILE_BYTES,
  planDemoTree,
  summarizeDemoTree,
  writeDemoTree,
  type DemoOptions,
} from '../src/demo/generate.js';
import { Prng } from '../src/demo/prng.js';
import { runCli } from './_cli.js';
import { compareTrees, snapshotTree, tempDir } from './_tree.js';

/** The published mulberry32, verbatim in spirit: the demo must stay the same tree for a seed across releases. */
function referenceMulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const small: DemoOptions = { ...DEMO_DEFAULTS, files: 40, folders: 10, maxFileBytes: 200 * 1024 };

describe('Prng', () => {
  for (const seed of [0, 1, 42, 0xffffffff]) {
    it(`matches the reference mulberry32 for seed ${seed}`, () => {
      const ours = new Prng(seed);
      const ref = referenceMulberry32(seed);
      for (let i = 0; i < 1000; i++) expect(ours.next()).toBe(ref());
    });
  }

  it('int() stays within its bounds and reaches both ends', () => {
    const rng = new Prng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const n = rng.int(3, 6);
      expect(n).toBeGreaterThanOrEqual(3);
      expect(n).toBeLessThanOrEqual(6);
      seen.add(n);
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6]);
  });

  it('fill() writes every byte, including a tail shorter than four', () => {
    for (const size of [0, 1, 3, 4, 5, 1027]) {
      const a = new Prng(9).fill(Buffer.alloc(size));
      const b = new Prng(9).fill(Buffer.alloc(size, 0xee));
      expect(a.equals(b)).toBe(true);
    }
  });
});

describe('planDemoTree (pure)', () => {
  it('gives the same plan for the same seed and a different one for another seed', () => {
    expect(planDemoTree(small)).toEqual(planDemoTree({ ...small }));
    expect(planDemoTree({ ...small, seed: 2 })).not.toEqual(planDemoTree(small));
  });

  const cases = [
    { name: 'defaults', options: DEMO_DEFAULTS },
    { name: 'seed 0, tiny', options: { ...DEMO_DEFAULTS, seed: 0, files: 0, folders: 0 } },
    { name: 'seed 42, small', options: { ...small, seed: 42 } },
    { name: 'largest seed', options: { ...small, seed: 0xffffffff } },
    { name: 'no symlinks (Windows)', options: { ...small, symlinks: false } },
  ];
  for (const c of cases) {
    it(`always holds the awkward cases: ${c.name}`, () => {
      const plan = planDemoTree(c.options);
      const s = summarizeDemoTree(plan);
      expect(s.files).toBe(Math.max(c.options.files, 4));
      expect(s.largeFiles).toBeGreaterThanOrEqual(2);
      expect(s.emptyFiles).toBeGreaterThanOrEqual(1);
      expect(s.emptyFolders).toBeGreaterThanOrEqual(2);
      expect(s.symlinks).toBe(c.options.symlinks ? 1 : 0);
      const names = plan.map((e) => e.path);
      expect(names.some((p) => p.includes(' '))).toBe(true);
      expect(names.some((p) => /[^\x00-\x7f]/.test(p))).toBe(true);
      // Parents come before children, and every parent is a planned folder.
      const dirs = new Set(['']);
      for (const e of plan) {
        const parent = e.path.includes('/') ? e.path.slice(0, e.path.lastIndexOf('/')) : '';
        expect(dirs.has(parent), `${e.path} before its folder`).toBe(true);
        if (e.type === 'dir') dirs.add(e.path);
      }
      // Unique even on case-insensitive, normalising file systems; nothing Windows forbids in a name.
      const folded = names.map((p) => p.normalize('NFC').toLowerCase());
      expect(new Set(folded).size).toBe(folded.length);
      for (const p of names)
        expect(
          p.split('/').every((part) => !/[<>:"\\|?*\x00-\x1f]|[ .]$/.test(part)),
          p,
        ).toBe(true);
      // Every file's content is exactly its size.
      for (const e of plan) if (e.type === 'file') expect(demoFileContent(e).length).toBe(e.size);
    });
  }
});

describe('writeDemoTree', () => {
  it('writes byte-identical trees for the same seed (bytes, modes, mtimes, links), in place or elsewhere', () => {
    const base = tempDir('fs-demo-');
    const a = join(base, 'a');
    const b = join(base, 'b');
    const plan = planDemoTree(small);
    const summary = writeDemoTree(a, plan, small.seed);
    writeDemoTree(b, planDemoTree(small), small.seed);
    expect(compareTrees(a, b)).toEqual([]);
    const before = snapshotTree(a);
    writeDemoTree(a, planDemoTree(small), small.seed); // rewrite over an earlier demo tree
    expect(compareTrees(before, a)).toEqual([]);

    const snap = snapshotTree(a);
    const files = [...snap.values()].filter((s) => s.type === 'file');
    expect(files.length).toBe(summary.files + 1); // + the marker
    expect(files.filter((s) => (s.size ?? 0) > LARGE_FILE_BYTES).length).toBe(summary.largeFiles);
    expect(snap.get('empty folder')?.type).toBe('dir');
    expect(readdirSync(join(a, 'empty folder'))).toEqual([]);
  });

  it('writes a different tree for a different seed', () => {
    const base = tempDir('fs-demo-');
    writeDemoTree(join(base, 'a'), planDemoTree(small), 1);
    writeDemoTree(join(base, 'b'), planDemoTree({ ...small, seed: 2 }), 2);
    expect(compareTrees(join(base, 'a'), join(base, 'b')).length).toBeGreaterThan(10);
  });
});

describe('folder-sync demo (built CLI)', () => {
  it('writes the tree; a pass logs created lines incl. files over 64 KiB; a pass over a regenerated tree logs no operations', async () => {
    const base = tempDir('fs-demo-cli-');
    const log = join(base, 'sync.log');
    const made = await runCli(['demo', 'source', '--seed', '7', '--files', '60', '--folders', '12'], { cwd: base });
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/^demo: wrote 60 files \(.+; \d+ over 64 KiB, \d+ empty\), 12 folders \(\d+ empty\)/);
    expect(made.stdout).toContain('(seed 7)');
    expect(made.stdout).toContain('next: folder-sync sync-once source replica --log folder-sync.log');

    const first = await runCli(['sync-once', 'source', 'replica', '--log', log, '--log-format', 'json', '--quiet'], { cwd: base });
    expect(first.code, first.stderr).toBe(0);
    const events = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const created = events.filter((e) => e['action'] === 'created' && e['kind'] === 'file');
    expect(created.length).toBe(61); // 60 files + the marker
    expect(created.filter((e) => (e['size'] as number) > LARGE_FILE_BYTES).length).toBeGreaterThanOrEqual(2);
    expect(events.some((e) => e['action'] === 'created' && e['kind'] === 'dir' && e['path'] === 'empty folder')).toBe(true);
    expect(compareTrees(join(base, 'source'), join(base, 'replica'))).toEqual([]);

    const again = await runCli(['demo', 'source', '--seed', '7', '--files', '60', '--folders', '12'], { cwd: base });
    expect(again.code, again.stderr).toBe(0);
    const textLog = join(base, 'second.log');
    const second = await runCli(['sync-once', 'source', 'replica', '--log', textLog], { cwd: base });
    expect(second.code, second.stderr).toBe(0);
    const lines = readFileSync(textLog, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/ INFO pass started: /);
    expect(lines[1]).toMatch(/ INFO pass finished: created 0, updated 0, removed 0, failed 0, skipped 0, bytes 0, /);
  });

  it('refuses a non-empty folder it did not write (exit 2, one line, nothing changed)', async () => {
    const base = tempDir('fs-demo-cli-');
    const mine = join(base, 'mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'thesis.tex'), 'precious');
    const before = snapshotTree(mine);
    const r = await runCli(['demo', mine], { cwd: base });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^folder-sync: demo folder .*mine is not empty and was not written by "folder-sync demo"/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(compareTrees(before, mine)).toEqual([]);
    expect(existsSync(join(mine, DEMO_MARKER))).toBe(false);
  });

  it('refuses a path that is a file', async () => {
    const base = tempDir('fs-demo-cli-');
    writeFileSync(join(base, 'f'), 'x');
    const r = await runCli(['demo', join(base, 'f')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not a folder');
    expect(readFileSync(join(base, 'f'), 'utf8')).toBe('x');
  });

  const bad = [
    { args: ['out', '--seed', '-1'], message: /--seed needs a whole number/ },
    { args: ['out', '--seed', 'abc'], message: /--seed needs a whole number/ },
    { args: ['out', '--seed', '1.5'], message: /--seed needs a whole number/ },
    { args: ['out', '--seed', '4294967296'], message: /--seed must be at most 4294967295/ },
    { args: ['out', '--files', '2000000'], message: /--files must be at most/ },
    { args: ['out', '--size', '3'], message: /unknown option "--size"/ },
    { args: ['out', 'b'], message: /too many arguments/ },
  ];
  for (const c of bad) {
    it(`usage error: demo ${c.args.join(' ')}`, async () => {
      const base = tempDir('fs-demo-cli-');
      const r = await runCli(['demo', ...c.args], { cwd: base });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(c.message);
      expect(readdirSync(base)).toEqual([]);
    });
  }

  it('--help shows the argument, the defaults and an example', async () => {
    const r = await runCli(['demo', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/DIR/);
    expect(r.stdout).toMatch(/Default: demo\/source/);
    expect(r.stdout).toMatch(/--seed.*Default: 1/);
    expect(r.stdout).toMatch(/--files.*Default: 300/);
    expect(r.stdout).toMatch(/Example: folder-sync demo /);
  });
});

describe('folder-sync --help (root)', () => {
  it('lists every registered command with its arguments, the exit codes and an example', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    const listed = /\(commands: ([^)]*)\)/.exec((await runCli(['no-such-command'])).stderr)?.[1]?.split(', ') ?? [];
    expect(listed).toContain('demo');
    for (const cmd of listed) expect(r.stdout, cmd).toMatch(new RegExp(`^  ${cmd} \\S.*\n      \\w`, 'm'));
    expect(r.stdout).toMatch(/Exit codes: 0 complete, 1 some entries failed, 2 bad usage or refused/);
    expect(r.stdout).toMatch(/74 the log file could not be written, 75 another pass holds the replica/);
    expect(r.stdout).toMatch(/Example:\n  folder-sync sync-once \S+ \S+ --log \S+\n/);
  });

  it('with no command at all: the same text on stderr, exit 2', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe((await runCli(['--help'])).stdout);
  });
});
