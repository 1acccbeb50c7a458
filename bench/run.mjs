#!/usr/bin/env node
// folder-sync vs rsync on the same trees, alternating runs (A B A B ...), medians and ratios.
//   npm run bench                 the full table (about 5-10 minutes on 2 cores; trees are cached)
//   npm run bench -- --huge       also the peak RSS of a no-op pass over 1,000,000 files
//   npm run bench -- --smoke      a few hundred files, one run each: checks that the bench itself works
// Options: --runs <n> (default 3), --cache <dir> (default $FOLDER_SYNC_BENCH_CACHE or /var/tmp/folder-sync-bench),
//          --only <id,id>, --json <file> (write the results), --no-install.
// See bench/PROFILING.md for what was measured and how to profile a pass.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cached, HUGE, makeLargeTree, makeSmallTree, makeStaleTree, SMALL, SMOKE } from './trees.mjs';
import { compareTrees } from './verify.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(repo, 'dist', 'cli.js');

const { values: opts } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    huge: { type: 'boolean', default: false },
    runs: { type: 'string' },
    cache: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'string' },
    'no-install': { type: 'boolean', default: false },
  },
});
const runs = Number(opts.runs ?? (opts.smoke ? 1 : 3));
if (!Number.isInteger(runs) || runs < 1) fail(`--runs must be a positive whole number, not ${opts.runs}`);
const cache = resolve(opts.cache ?? process.env.FOLDER_SYNC_BENCH_CACHE ?? '/var/tmp/folder-sync-bench');
if (cache === repo || cache.startsWith(`${repo}/`)) fail(`the cache ${cache} must lie outside the repository`);
const only = opts.only ? new Set(opts.only.split(',')) : undefined;

function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}
function say(message) {
  process.stderr.write(`${message}\n`);
}

// ---- tools ---------------------------------------------------------------------------------------------

function haveCommand(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
function ensureTool(check, pkg) {
  if (check()) return;
  if (opts['no-install']) fail(`${pkg} is missing (install it: apt-get install ${pkg})`);
  say(`installing ${pkg} with apt-get ...`);
  let r = spawnSync('apt-get', ['install', '-y', pkg], { stdio: 'ignore' });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'ignore' });
    r = spawnSync('apt-get', ['install', '-y', pkg], { stdio: 'ignore' });
  }
  if (r.status !== 0 || !check()) fail(`could not install ${pkg} (run as root: apt-get install ${pkg})`);
}
ensureTool(() => haveCommand('rsync'), 'rsync');
ensureTool(() => existsSync('/usr/bin/time'), 'time');
if (!existsSync(cli)) fail(`${cli} is missing: run npm run build first (npm run bench does)`);

const rsyncVersion = execFileSync('rsync', ['--version'], { encoding: 'utf8' }).split('\n')[0];
const nodeVersion = process.version;

// ---- trees ---------------------------------------------------------------------------------------------

mkdirSync(cache, { recursive: true });
const t0 = performance.now();
const smallSpec = opts.smoke ? SMOKE : SMALL;
const prefix = opts.smoke ? 'smoke-' : '';
say(`trees in ${cache} (generated once, then reused)`);
const trees = {
  small: cached(cache, `${prefix}small`, (r) => makeSmallTree(r, smallSpec)),
};
trees.stale = cached(cache, `${prefix}stale`, (r) =>
  makeStaleTree(trees.small, r, smallSpec, opts.smoke ? { seed: 11, edits: 10, extras: 5 } : { seed: 11, edits: 1000, extras: 500 }),
);
trees.large = cached(cache, `${prefix}large`, (r) =>
  makeLargeTree(r, opts.smoke ? { seed: 2, bigFiles: 2, bigSize: 1 << 20, smallFiles: 20 } : { seed: 2 }),
);
if (opts.huge) trees.huge = cached(cache, 'huge', (r) => makeSmallTree(r, HUGE));
say(`trees ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const work = join(cache, 'work');
const replica = join(work, 'replica');
mkdirSync(work, { recursive: true });

// ---- running one timed command --------------------------------------------------------------------------

/** Run argv under /usr/bin/time; wall time measured here, peak RSS (KiB) from time's %M. */
function timed(argv) {
  const rssFile = join(work, 'rss.txt');
  rmSync(rssFile, { force: true });
  const start = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', rssFile, ...argv], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const rssKiB = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) : NaN;
  return { seconds, rssKiB, status: r.status, signal: r.signal, stderr: r.stderr ?? '', stdout: r.stdout ?? '' };
}

function untimed(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr.trim().slice(0, 500)}`);
}

/** Flush dirty pages so one run's write-back is not billed to the next. */
function flush() {
  untimed(['sync']);
}

function freshReplica() {
  rmSync(replica, { recursive: true, force: true });
  flush();
}

/**
 * The replica as an exact copy made by rsync (nanosecond times and all): a no-op for both tools. `link`: made
 * of hard links by `cp -al` instead (the 1M-file tree: creating a million inodes twice takes too long here;
 * a no-op pass compares type, size, mode and mtime, which hard links share exactly).
 */
function presync(src, { link = false } = {}) {
  if (link) untimed(['cp', '-al', `${src}/.`, `${replica}/`]);
  else untimed(['rsync', '-a', '--delete', `${src}/`, `${replica}/`]);
  const diffs = compareTrees(src, replica, { bytes: false });
  if (diffs.length) throw new Error(`pre-sync left differences: ${diffs.join('; ')}`);
  flush();
}

const tools = {
  'folder-sync': (src, { checksum = false } = {}) => [
    process.execPath,
    cli,
    'sync-once',
    src,
    replica,
    '--quiet',
    ...(checksum ? ['--checksum'] : []),
  ],
  rsync: (src, { checksum = false } = {}) => ['rsync', '-a', '--delete', ...(checksum ? ['-c'] : []), `${src}/`, `${replica}/`],
};

// ---- scenarios -------------------------------------------------------------------------------------------

/**
 * Each scenario: `before` puts the replica into the same state for both tools before every timed run;
 * `bytes` says whether the check afterwards compares every byte (runs that write) or metadata only (no-ops,
 * which must not write anything: their replica was already verified byte for byte when it was made).
 */
const scenarios = [
  { id: 'initial-small', label: 'initial copy, small', target: 0.8, src: 'small', before: () => freshReplica(), bytes: true },
  { id: 'noop-small', label: 'no-op pass, small (warm cache)', target: 0.8, src: 'small', setup: 'presync', bytes: false },
  {
    id: 'incremental-small',
    label: 'incremental, small over stale',
    target: 0.8,
    src: 'small',
    before: () => {
      untimed(['rsync', '-a', '--delete', `${trees.stale}/`, `${replica}/`]);
      flush();
    },
    bytes: true,
  },
  {
    id: 'checksum-noop-small',
    label: '--checksum no-op, small (vs rsync -c)',
    target: 0.5,
    src: 'small',
    setup: 'presync',
    checksum: true,
    bytes: false,
  },
  { id: 'initial-large', label: 'initial copy, large', target: 0.8, src: 'large', before: () => freshReplica(), bytes: true },
  {
    id: 'checksum-noop-large',
    label: '--checksum no-op, large (vs rsync -c)',
    target: 1.0,
    src: 'large',
    setup: 'presync',
    checksum: true,
    bytes: false,
  },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const results = [];
const failures = [];

function runScenario(sc) {
  const src = trees[sc.src];
  say(`\n== ${sc.label}`);
  if (sc.id === 'incremental-small') freshReplica(); // start from a clean folder, then reset from stale each run
  if (sc.setup === 'presync') {
    freshReplica();
    presync(src);
    // One untimed warm-up run per tool: the no-op runs are warm-cache for both (say so in the table).
    for (const name of Object.keys(tools)) timed(tools[name](src, sc));
  }
  const times = { 'folder-sync': [], rsync: [] };
  const rss = { 'folder-sync': [], rsync: [] };
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? ['folder-sync', 'rsync'] : ['rsync', 'folder-sync'];
    for (const name of order) {
      sc.before?.();
      const r = timed(tools[name](src, sc));
      const problems = [];
      if (r.status !== 0) problems.push(`exit ${r.status ?? r.signal}: ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
      if (problems.length === 0) {
        const diffs = compareTrees(src, replica, { bytes: sc.bytes });
        if (diffs.length) problems.push(`replica differs from source: ${diffs.join('; ')}`);
      }
      if (problems.length) {
        failures.push(`${sc.id} run ${i + 1} ${name}: ${problems.join('; ')}`);
        say(`  ${name.padEnd(11)} FAILED: ${problems.join('; ')}`);
        continue; // a failed run is reported, never timed
      }
      times[name].push(r.seconds);
      rss[name].push(r.rssKiB);
      say(`  ${name.padEnd(11)} ${r.seconds.toFixed(3)} s  ${(r.rssKiB / 1024).toFixed(1)} MiB`);
    }
  }
  const fs = times['folder-sync'].length ? median(times['folder-sync']) : NaN;
  const rs = times.rsync.length ? median(times.rsync) : NaN;
  const complete = times['folder-sync'].length === runs && times.rsync.length === runs;
  results.push({
    id: sc.id,
    label: sc.label,
    target: sc.target,
    folderSync: fs,
    rsync: rs,
    ratio: fs / rs,
    complete,
    runs: times,
    rssMiB: { folderSync: median(rss['folder-sync']) / 1024, rsync: median(rss.rsync) / 1024 },
  });
}

const started = performance.now();
for (const sc of scenarios) if (!only || only.has(sc.id)) runScenario(sc);

// Peak RSS of a no-op pass over small (and over huge with --huge).
const memory = {};
function noopRss(treeName) {
  const src = trees[treeName];
  say(`\n== peak RSS, no-op pass over ${treeName}`);
  freshReplica();
  presync(src, { link: treeName === 'huge' });
  const values = [];
  for (let i = 0; i < runs; i++) {
    const r = timed(tools['folder-sync'](src));
    if (r.status !== 0) {
      failures.push(`rss-${treeName} run ${i + 1}: exit ${r.status}: ${r.stderr.trim().slice(0, 300)}`);
      continue;
    }
    values.push(r.rssKiB / 1024);
    say(`  folder-sync ${r.seconds.toFixed(3)} s  ${(r.rssKiB / 1024).toFixed(1)} MiB`);
  }
  const diffs = compareTrees(src, replica, { bytes: false });
  if (diffs.length) failures.push(`rss-${treeName}: replica differs from source: ${diffs.join('; ')}`);
  memory[treeName] = values.length ? Math.max(...values) : NaN;
}
if (!only || only.has('rss')) {
  noopRss('small');
  if (opts.huge) noopRss('huge');
}
freshReplica();

// ---- report ----------------------------------------------------------------------------------------------

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const verdict = (ok) => (ok === undefined ? '' : ok ? 'met' : 'NOT met');
const lines = [];
lines.push(`| figure | folder-sync (s) | rsync (s) | ratio | target | |`);
lines.push(`| --- | ---: | ---: | ---: | ---: | --- |`);
for (const r of results) {
  const ok = r.complete && Number.isFinite(r.ratio) ? r.ratio <= r.target : false;
  lines.push(
    `| ${r.label} | ${fmt(r.folderSync)} | ${fmt(r.rsync)} | ${fmt(r.ratio)} | <= ${r.target} | ${r.complete ? verdict(ok) : 'FAILED runs'} |`,
  );
}
if (memory.small !== undefined) {
  lines.push(
    `| peak RSS, no-op over ${smallSpec.files.toLocaleString('en')} files | ${fmt(memory.small, 1)} MiB | | | <= 100 MiB | ${verdict(memory.small <= 100)} |`,
  );
}
if (memory.huge !== undefined) {
  const ratio = memory.huge / memory.small;
  lines.push(
    `| peak RSS, no-op over ${HUGE.files.toLocaleString('en')} files | ${fmt(memory.huge, 1)} MiB | | ${fmt(ratio)} x | <= 1.3 x | ${verdict(ratio <= 1.3)} |`,
  );
}
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${nodeVersion}, ${rsyncVersion.replace(/\s+/g, ' ')}`;
const header =
  `folder-sync vs rsync, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${runs} run(s) each, medians` +
  `${opts.smoke ? ' (SMOKE trees: not comparable)' : ''}\nmachine: ${machine}\n` +
  `no-op and --checksum no-op runs are warm-cache for both tools (one untimed warm-up each); every run starts after sync(1).`;
process.stdout.write(`\n${header}\n\n${lines.join('\n')}\n`);
say(`\nbench took ${((performance.now() - started) / 1000).toFixed(0)} s`);
if (opts.json) {
  writeFileSync(
    opts.json,
    JSON.stringify({ date: new Date().toISOString(), machine, runs, smoke: opts.smoke, results, memoryMiB: memory, failures }, null, 2),
  );
}
if (failures.length) {
  process.stdout.write(`\nFAILED RUNS (not timed):\n${failures.map((f) => `- ${f}`).join('\n')}\n`);
  process.exitCode = 1;
}
