#!/usr/bin/env node
// The exclude-pattern rows of the benchmark (issue 13; docs/filters.md), folder-sync against itself:
//   1. a no-op pass over the 100k-file tree with 20 typical patterns (none of which matches: every entry is
//      still looked at, and each also goes through the rules) vs the same pass without patterns; target <= 1.10;
//   2. a no-op pass over a tree whose largest folder, node_modules/ (60% of the files), is excluded vs the same
//      tree without the exclude; expected: about 0.4 plus the fixed cost of a pass.
// Alternating runs (A B A B ...), medians. The lead hooks `filterRows` into bench/run.mjs; on its own:
//   node bench/filters.mjs [--smoke] [--runs n] [--cache dir] [--json file]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { cronEnv } from './env.mjs';
import { cached, makeSmallTree, SMALL, SMOKE } from './trees.mjs';
import { compareTrees } from './verify.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(repo, 'dist', 'cli.js');

/** Twenty patterns a user would give a project or home mirror; in the 100k tree (folders d..., files f....dat) none matches. */
export const TYPICAL_PATTERNS = [
  'node_modules/',
  '*.tmp',
  '.DS_Store',
  'build/',
  '!keep.tmp',
  'Thumbs.db',
  '*.log',
  'dist/',
  '.cache/',
  'coverage/',
  '*.swp',
  '*~',
  '.idea/',
  '.vscode/',
  '__pycache__/',
  '*.pyc',
  'target/',
  '/out/',
  '**/tmp/**',
  '!important.log',
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function run(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { env: cronEnv(), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${argv.join(' ').slice(0, 200)} failed (${r.status}): ${(r.stderr ?? '').trim().slice(0, 500)}`);
  return r;
}

/** One timed pass. */
function noop(src, replica, flags) {
  const start = process.hrtime.bigint();
  run([process.execPath, cli, 'sync-once', src, replica, ...flags]);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * A / B alternating, `runs` each after one untimed warm-up of each; medians and their ratio B / A. The order
 * turns every round (A B, B A, ...), as the main bench rotates its tools: neither always runs second.
 */
function compare(label, src, replica, a, b, runs) {
  noop(src, replica, a);
  noop(src, replica, b);
  const ta = [];
  const tb = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      ta.push(noop(src, replica, a));
      tb.push(noop(src, replica, b));
    } else {
      tb.push(noop(src, replica, b));
      ta.push(noop(src, replica, a));
    }
  }
  // Still an exact copy (the excluded folder included, left alone): every run was a no-op.
  const diffs = compareTrees(src, replica, { bytes: false });
  if (diffs.length) throw new Error(`${label}: the replica changed: ${diffs.join('; ')}`);
  return { label, without: median(ta), with: median(tb), ratio: median(tb) / median(ta), runsWithout: ta, runsWith: tb };
}

/** The tree of row 2: node_modules/ with 60% of the files, the rest beside it (both seeded, cached). */
function makeMostlyModulesTree(root, spec) {
  const modules = Math.round(spec.files * 0.6);
  mkdirSync(join(root, 'node_modules'));
  mkdirSync(join(root, 'src'));
  makeSmallTree(join(root, 'node_modules'), { ...spec, files: modules, folders: Math.max(2, Math.round(spec.folders * 0.6)), seed: spec.seed + 100 });
  makeSmallTree(join(root, 'src'), {
    ...spec,
    files: spec.files - modules,
    folders: Math.max(2, Math.round(spec.folders * 0.4)),
    seed: spec.seed + 200,
  });
}

/**
 * Both rows. `cache`: where the trees are generated once (shared with bench/run.mjs: the same `small` tree).
 * Returns rows { id, label, without, with, ratio, target?, expected? }.
 */
export function filterRows({ cache, runs = 3, smoke = false }) {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
  const spec = smoke ? SMOKE : SMALL;
  const prefix = smoke ? 'smoke-' : '';
  const small = cached(cache, `${prefix}small`, (r) => makeSmallTree(r, spec));
  const modules = cached(cache, `${prefix}mostly-modules`, (r) => makeMostlyModulesTree(r, spec));
  const work = join(cache, 'work-filters');
  const replica = join(work, 'replica');
  const quiet = ['--quiet']; // as bench/run.mjs runs it
  const patterns = TYPICAL_PATTERNS.flatMap((p) => ['--exclude', p]);
  const rows = [];

  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  run(['rsync', '-a', '--delete', `${small}/`, `${replica}/`]);
  rows.push({ id: 'filter-noop-small', target: 1.1, ...compare('no-op, 20 patterns vs none', small, replica, quiet, [...quiet, ...patterns], runs) });

  // The replica holds node_modules too: excluded, it is left alone and neither side of it is listed.
  rmSync(replica, { recursive: true, force: true });
  run(['rsync', '-a', '--delete', `${modules}/`, `${replica}/`]);
  rows.push({
    id: 'filter-noop-modules',
    expected: 0.4,
    ...compare('no-op, node_modules/ (60% of files) excluded vs not', modules, replica, quiet, [...quiet, '--exclude', 'node_modules/'], runs),
  });
  rmSync(work, { recursive: true, force: true });
  return rows;
}

export function formatRows(rows) {
  const out = ['| Filter row | without (s) | with (s) | ratio | target |', '| --- | --- | --- | --- | --- |'];
  for (const r of rows) {
    const goal = r.target !== undefined ? `<= ${r.target.toFixed(2)} ${r.ratio <= r.target ? 'met' : 'NOT met'}` : `~${r.expected} (proportional)`;
    out.push(`| ${r.label} | ${r.without.toFixed(3)} | ${r.with.toFixed(3)} | ${r.ratio.toFixed(2)} | ${goal} |`);
  }
  return out.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: { smoke: { type: 'boolean' }, runs: { type: 'string' }, cache: { type: 'string' }, json: { type: 'string' } },
  });
  const cache = resolve(values.cache ?? process.env.FOLDER_SYNC_BENCH_CACHE ?? '/var/tmp/folder-sync-bench');
  if (cache === repo || cache.startsWith(`${repo}/`)) {
    process.stderr.write(`bench: the cache ${cache} must lie outside the repository\n`);
    process.exit(2);
  }
  const runs = Number(values.runs ?? (values.smoke ? 1 : 3));
  const rows = filterRows({ cache, runs, smoke: Boolean(values.smoke) });
  process.stdout.write(`${formatRows(rows)}\n`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ rows }, null, 2)}\n`);
}
