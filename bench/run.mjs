#!/usr/bin/env node
// folder-sync vs rsync vs what the machine allows (the floor), on the same trees, tools alternating, medians.
//   npm run bench                 the table (5 runs each; about 15 minutes on an idle 2-core VM; trees are cached)
//   npm run bench -- --long       9 runs each and the 1,000,000-file peak-RSS row (about 30 minutes)
//   npm run bench -- --huge       adds the 1,000,000-file peak-RSS row only
//   npm run bench -- --smoke      a few hundred files, one run each: checks that the bench itself works
//   npm run bench -- --list       the row ids (for --only)
// Options: --runs <n> (folder-sync and rsync), --floor-runs <n> (the floor tools, default 3), --cache <dir> (default $FOLDER_SYNC_BENCH_CACHE or /var/tmp/folder-sync-bench),
//          --only <id,id>, --json <file> (write the results), --no-install, --no-drop (never drop the page cache),
//          --no-tmpfs (skip the rows with both trees on a tmpfs).
// The exclude-pattern rows (row id `filters`) come from bench/filters.mjs (issue 13): its filterRows() and
// formatRows(). See docs/benchmark.md for the method and bench/PROFILING.md for profiling.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { cached, HUGE, makeLargeTree, makeSmallTree, makeStaleTree, SMALL, SMOKE } from './trees.mjs';
import { cronEnv, describeEnv } from './env.mjs';
import { compareTrees } from './verify.mjs';
import { Aside } from './aside.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repo = resolve(benchDir, '..');
const cli = join(repo, 'dist', 'cli.js');

const { values: opts } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    huge: { type: 'boolean', default: false },
    long: { type: 'boolean', default: false },
    runs: { type: 'string' },
    'floor-runs': { type: 'string' },
    cache: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'string' },
    list: { type: 'boolean', default: false },
    'no-install': { type: 'boolean', default: false },
    'no-drop': { type: 'boolean', default: false },
    'no-tmpfs': { type: 'boolean', default: false },
    'keep-env': { type: 'boolean', default: false },
  },
});
const runs = Number(opts.runs ?? (opts.smoke ? 1 : opts.long ? 9 : 5));
if (!Number.isInteger(runs) || runs < 1) fail(`--runs must be a positive whole number, not ${opts.runs}`);
const floorRuns = Math.min(runs, Number(opts['floor-runs'] ?? (opts.long ? runs : 3)));
if (!Number.isInteger(floorRuns) || floorRuns < 1) fail(`--floor-runs must be a positive whole number, not ${opts['floor-runs']}`);
const huge = opts.huge || opts.long;
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

// ---- tools on this machine -------------------------------------------------------------------------------

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

// ---- trees and places ------------------------------------------------------------------------------------

const smallSpec = opts.smoke ? SMOKE : SMALL;
const prefix = opts.smoke ? 'smoke-' : '';
const work = join(cache, 'work');
const replica = join(work, 'replica');
/** Both trees in memory: copies of the sources and a replica under /dev/shm (made when a tmpfs row runs). */
const shmRoot = `/dev/shm/folder-sync-bench-${process.pid}`;
const shm = { replica: join(shmRoot, 'replica') };
const trees = {};

/** The page cache can be dropped (root, Linux) unless --no-drop or --smoke (never disturb a test run). */
const canDrop = !opts['no-drop'] && !opts.smoke && process.getuid?.() === 0 && existsSync('/proc/sys/vm/drop_caches');

// ---- running one timed command --------------------------------------------------------------------------

/** Every tool runs with the environment a scheduled pass gets from cron (bench/env.mjs), unless --keep-env. */
const toolEnv = opts['keep-env'] ? process.env : cronEnv();

/** Run argv under /usr/bin/time; wall time measured here, peak RSS (KiB) from time's %M. */
function timed(argv) {
  const rssFile = join(work, 'rss.txt');
  rmSync(rssFile, { force: true });
  const start = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', rssFile, ...argv], {
    env: toolEnv,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const rssKiB = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) : NaN;
  return { seconds, rssKiB, status: r.status, signal: r.signal, stderr: r.stderr ?? '', stdout: r.stdout ?? '' };
}

function untimed(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { env: toolEnv, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${(r.stderr ?? '').trim().slice(0, 500)}`);
}

function dirtyKiB() {
  const info = readFileSync('/proc/meminfo', 'utf8');
  const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return kib('Dirty') + kib('Writeback');
}

/**
 * Before every timed run: write back what earlier runs left dirty (so it is not billed to this run), drop the
 * page cache for cold rows, and let write-back settle (dirty + writeback under 4 MiB, at most 5 s).
 */
function settle(cold) {
  untimed(['sync']);
  if (cold && canDrop) writeFileSync('/proc/sys/vm/drop_caches', '3');
  const until = Date.now() + 5000;
  while (dirtyKiB() > 4096 && Date.now() < until) untimed(['sync']);
}

function removeTree(path) {
  rmSync(path, { recursive: true, force: true });
}

/**
 * The replica as an exact copy made by rsync (nanosecond times and all): a no-op for both tools. `link`: made
 * of hard links by `cp -al` instead (the 1M-file tree: creating a million inodes twice takes too long here;
 * a no-op pass compares type, size, mode and mtime, which hard links share exactly).
 */
function presync(src, dst, { link = false } = {}) {
  removeTree(dst);
  if (link) untimed(['cp', '-al', src, dst]);
  else untimed(['rsync', '-a', '--delete', `${src}/`, `${dst}/`]);
  const diffs = compareTrees(src, dst, { bytes: false });
  if (diffs.length) throw new Error(`pre-sync left differences: ${diffs.join('; ')}`);
}

/**
 * The tools. `verify`: the replica is compared with the source after every run (folder-sync and rsync always;
 * the copy floors by metadata, so a floor that skipped work would show). Floors that only read check nothing.
 */
const sh = (script, ...args) => ['bash', '-c', script, 'bench', ...args];
const TOOLS = {
  'folder-sync': {
    argv: (src, dst, sc) => [
      process.execPath,
      cli,
      'sync-once',
      src,
      dst,
      '--quiet',
      ...(sc.checksum ? ['--checksum'] : []),
      ...(sc.args?.['folder-sync'] ?? []),
    ],
  },
  rsync: {
    argv: (src, dst, sc) => ['rsync', '-a', '--delete', ...(sc.checksum ? ['-c'] : []), ...(sc.args?.rsync ?? []), `${src}/`, `${dst}/`],
  },
  // Copy floors (the replica is absent before each run): one process, and two (reader and writer), as rsync is.
  // tar's posix format keeps sub-second mtimes (the default gnu format rounds them to seconds).
  'cp -a': { floor: true, argv: (src, dst) => ['cp', '-a', src, dst] },
  'tar c + tar x': {
    floor: true,
    prepare: (dst) => mkdirSync(dst),
    argv: (src, dst) =>
      sh('set -o pipefail; tar --format=posix --pax-option=delete=atime,delete=ctime -C "$1" -cf - . | tar -C "$2" -xf -', src, dst),
  },
  // The small copies written as the pass must write them (session 12, bench/node-floor-copy.mjs): a temporary
  // beside each file, its times set, renamed into place; a bare Node program on two threads, none of the guards.
  'node tmp+rename': {
    floor: true,
    argv: (src, dst) => [process.execPath, join(benchDir, 'node-floor-copy.mjs'), src, dst],
  },
  // No-op floor: lstat every entry of both trees, two processes at once (%s makes find lstat each entry).
  'find x2': {
    floor: true,
    readOnly: true,
    argv: (src, dst) => sh('find "$1" -printf "%s\\n" >/dev/null & p=$!; find "$2" -printf "%s\\n" >/dev/null; r=$?; wait $p && exit $r', src, dst),
  },
  // Incremental floor for the same work in Node (session 12, bench/node-floor-inc.mjs): both trees listed on two
  // threads as the pass lists them, every change applied by the main thread (temporary, times, rename; removals),
  // with none of the pass's guards. What Node allows, not what the machine allows (that is below find x2's walk).
  'node bare': {
    floor: true,
    argv: (src, dst) => [process.execPath, join(benchDir, 'node-floor-inc.mjs'), '--once', 'main', src, dst],
  },
  // Checksum floor: walk and read every byte of both trees, one process a tree, both at once. tar reads each file
  // (into an archive written to /dev/zero, which discards it; GNU tar skips reading only for /dev/null);
  // `find -exec cat` was measured slower than rsync -c here (cat maps a fresh buffer and writes once per file).
  'tar-read x2': {
    floor: true,
    readOnly: true,
    argv: (src, dst) => sh('tar -C "$1" -cf /dev/zero . & p=$!; tar -C "$2" -cf /dev/zero .; r=$?; wait $p && exit $r', src, dst),
  },
};
const COPY_FLOORS = ['cp -a', 'tar c + tar x'];

// ---- scenarios -------------------------------------------------------------------------------------------

/**
 * Each row: `src` names a tree, `place` 'disk' or 'tmpfs' (both trees and the replica in memory), `cache`
 * 'cold' (page cache dropped before every run, when root) or 'warm'; `before(dst)` puts the replica into the
 * same state before every timed run of every tool, `setup(src, dst)` once before the row; `bytes`: the check
 * after each run compares every byte (runs that write) or metadata only (no-ops, whose replica was verified
 * when it was made); `floors`: the tools that measure what the machine allows for the same work (`floorNotes`: what a
 * floor leaves out, said beside it when it is the row's fastest).
 */
const fresh = (dst) => removeTree(dst);
/** The cold small copy's replicas: set aside, deleted once the row is over (bench/aside.mjs has why). */
const aside = new Aside(join(cache, 'work', 'aside'));
aside.clear(); // what a killed bench left
/** Bytes a tree takes on its disk (du). */
const treeBytes = (path) => Number(execFileSync('du', ['-sk', path], { encoding: 'utf8' }).split('\t')[0]) * 1024;
const presynced = (src, dst) => presync(src, dst);
const scenarios = [
  {
    id: 'initial-small',
    label: 'initial copy, small',
    target: 0.8,
    src: 'small',
    place: 'disk',
    cache: 'cold',
    before: fresh,
    bulk: true, // each run's replica set aside rather than deleted before the next run (bench/aside.mjs)
    bytes: true,
    floors: [...COPY_FLOORS, 'node tmp+rename'],
    floorNotes: { 'node tmp+rename': 'a bare Node copy through temporaries' },
  },
  {
    id: 'initial-small-tmpfs',
    label: 'initial copy, small',
    target: 0.8,
    src: 'small',
    place: 'tmpfs',
    cache: 'warm',
    before: fresh,
    bytes: true,
    floors: [...COPY_FLOORS, 'node tmp+rename'],
    floorNotes: { 'node tmp+rename': 'a bare Node copy through temporaries' },
  },
  {
    id: 'noop-small',
    label: 'no-op pass, small',
    target: 0.8,
    src: 'small',
    place: 'disk',
    cache: 'warm',
    setup: presynced,
    warmup: true,
    bytes: false,
    floors: ['find x2'],
  },
  {
    id: 'incremental-small',
    label: 'incremental, small over stale',
    target: 0.8,
    src: 'small',
    place: 'disk',
    cache: 'warm',
    setup: (src, dst) => removeTree(dst),
    before: (dst) => untimed(['rsync', '-a', '--delete', `${trees.stale}/`, `${dst}/`]),
    bytes: true,
    floors: ['find x2', 'node bare'],
    floorNotes: { 'find x2': 'the lstat walk alone (a lower bound: it copies nothing)', 'node bare': 'the same work, bare Node' },
  },
  {
    id: 'checksum-noop-small',
    label: '--checksum no-op, small (vs rsync -c)',
    target: 1.0,
    src: 'small',
    place: 'disk',
    cache: 'warm',
    setup: presynced,
    warmup: true,
    checksum: true,
    bytes: false,
    floors: ['tar-read x2'],
  },
  {
    id: 'initial-large',
    label: 'initial copy, large',
    target: 0.8,
    src: 'large',
    place: 'disk',
    cache: 'cold',
    before: fresh,
    bytes: true,
    floors: COPY_FLOORS,
  },
  {
    id: 'initial-large-tmpfs',
    label: 'initial copy, large',
    target: 0.8,
    src: 'large',
    place: 'tmpfs',
    cache: 'warm',
    before: fresh,
    bytes: true,
    floors: COPY_FLOORS,
  },
  {
    id: 'checksum-noop-large',
    label: '--checksum no-op, large (vs rsync -c)',
    target: 1.0,
    src: 'large',
    place: 'disk',
    cache: 'warm',
    setup: presynced,
    warmup: true,
    checksum: true,
    bytes: false,
    floors: ['tar-read x2'],
  },
];
// The exclude-pattern rows (issue 13): folder-sync with patterns against itself without, from bench/filters.mjs.
const filtersModule = join(benchDir, 'filters.mjs');
const filters = existsSync(filtersModule) ? await import(pathToFileURL(filtersModule).href) : undefined;
const rowIds = [...scenarios.map((s) => s.id), 'rss', ...(filters ? ['filters'] : [])];
if (opts.list) {
  process.stdout.write(`${rowIds.join('\n')}\n`);
  process.exit(0);
}
if (only) for (const id of only) if (!rowIds.includes(id)) fail(`unknown row id ${id} (known: ${rowIds.join(', ')})`);

ensureTool(() => haveCommand('rsync'), 'rsync');
ensureTool(() => existsSync('/usr/bin/time'), 'time');
if (!existsSync(cli)) fail(`${cli} is missing: run npm run build first (npm run bench does)`);
const rsyncVersion = execFileSync('rsync', ['--version'], { encoding: 'utf8' }).split('\n')[0];

mkdirSync(cache, { recursive: true });
mkdirSync(work, { recursive: true });
const t0 = performance.now();
say(`trees in ${cache} (generated once, then reused)`);
trees.small = cached(cache, `${prefix}small`, (r) => makeSmallTree(r, smallSpec));
trees.stale = cached(cache, `${prefix}stale`, (r) =>
  makeStaleTree(trees.small, r, smallSpec, opts.smoke ? { seed: 11, edits: 10, extras: 5 } : { seed: 11, edits: 1000, extras: 500 }),
);
trees.large = cached(cache, `${prefix}large`, (r) =>
  makeLargeTree(r, opts.smoke ? { seed: 2, bigFiles: 2, bigSize: 1 << 20, smallFiles: 20 } : { seed: 2 }),
);
if (huge) trees.huge = cached(cache, 'huge', (r) => makeSmallTree(r, HUGE));
say(`trees ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

/** The tmpfs copy of a tree (made once per invocation, checked against the original). */
function shmTree(name) {
  const path = join(shmRoot, name);
  if (!existsSync(path)) {
    mkdirSync(shmRoot, { recursive: true });
    untimed(['cp', '-a', trees[name], path]);
    const diffs = compareTrees(trees[name], path, { bytes: false });
    if (diffs.length) throw new Error(`tmpfs copy of ${name} differs: ${diffs.join('; ')}`);
  }
  return path;
}
function shmHasRoom() {
  try {
    const s = statfsSync('/dev/shm');
    return s.bavail * s.bsize > (opts.smoke ? 64 << 20 : 4 * 2 ** 30);
  } catch {
    return false;
  }
}
process.on('exit', () => rmSync(shmRoot, { recursive: true, force: true }));
// A bench killed by a signal leaves its tmpfs copies behind (the bench never yields to a signal handler): the
// next run removes those of processes that are gone.
for (const name of existsSync('/dev/shm') ? readdirSync('/dev/shm') : []) {
  const pid = /^folder-sync-bench-(\d+)$/.exec(name)?.[1];
  if (pid && !processAlive(Number(pid))) rmSync(join('/dev/shm', name), { recursive: true, force: true });
}
function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const results = [];
const failures = [];
const skipped = [];

function runScenario(sc) {
  const tmpfs = sc.place === 'tmpfs';
  if (tmpfs && (opts['no-tmpfs'] || !shmHasRoom())) {
    skipped.push(`${sc.id}: ${opts['no-tmpfs'] ? '--no-tmpfs' : '/dev/shm missing or without 4 GiB free'}`);
    return;
  }
  const src = tmpfs ? shmTree(sc.src) : trees[sc.src];
  const dst = tmpfs ? shm.replica : replica;
  const cold = sc.cache === 'cold' && !tmpfs;
  const names = ['folder-sync', 'rsync', ...(sc.floors ?? [])];
  const started = performance.now();
  say(`\n== ${sc.label} [${tmpfs ? 'tmpfs' : sc.cache}]`);
  // A row on the disk starts once inodes freed by the last bulk removal are no longer recent (bench/aside.mjs).
  const wait = tmpfs || opts.smoke ? 0 : aside.msToWait(); // the smoke trees free a few hundred inodes
  if (wait > 0) {
    say(`  (waiting ${(wait / 1000).toFixed(0)} s: ext4 does not reuse inodes freed in the last 60 s, bench/aside.mjs)`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
  }
  // Enough room for every run's replica (with a margin), or they are deleted before each run as before.
  const bulk = sc.bulk && !tmpfs && aside.hasRoom(treeBytes(src) * (runs * 2 + floorRuns * (sc.floors?.length ?? 0)) * 1.2);
  if (sc.bulk && !tmpfs && !bulk) say('  (not enough room to set replicas aside: each is deleted before the next run)');
  const before = bulk ? (dst) => aside.put(dst) : sc.before;
  removeTree(dst);
  sc.setup?.(src, dst);
  // Warm rows: one untimed run of each tool first, so every timed run finds both trees in the page cache.
  if (sc.warmup) for (const name of names) timed(TOOLS[name].argv(src, dst, sc));
  const times = Object.fromEntries(names.map((n) => [n, []]));
  const rss = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < runs; i++) {
    // Floors take part in the first --floor-runs rounds. Rotate the order every round (A B C, B C A, ...): no
    // tool always runs first, after the same tool, or last.
    const round = i < floorRuns ? names : names.slice(0, 2);
    const k = i % round.length;
    const order = [...round.slice(k), ...round.slice(0, k)];
    for (const name of order) {
      const tool = TOOLS[name];
      before?.(dst);
      tool.prepare?.(dst);
      settle(cold);
      const r = timed(tool.argv(src, dst, sc));
      const problems = [];
      if (r.status !== 0) problems.push(`exit ${r.status ?? r.signal}: ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
      if (problems.length === 0 && !tool.readOnly) {
        const diffs = compareTrees(src, dst, { bytes: sc.bytes && !tool.floor });
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
  if (bulk) {
    aside.put(dst);
    say(`  (replicas set aside during the row deleted in ${aside.clear().toFixed(0)} s, untimed)`);
  } else removeTree(dst);
  const med = (name) => (times[name].length ? median(times[name]) : NaN);
  const floorMedians = (sc.floors ?? []).map((name) => ({ name, seconds: med(name) })).filter((f) => Number.isFinite(f.seconds));
  const floor = [...floorMedians].sort((a, b) => a.seconds - b.seconds)[0];
  const fs = med('folder-sync');
  const rs = med('rsync');
  results.push({
    id: sc.id,
    label: sc.label,
    place: tmpfs ? 'tmpfs' : 'disk',
    cache: tmpfs ? 'tmpfs' : cold ? 'cold' : sc.cache === 'cold' ? 'warm (cache not dropped)' : 'warm',
    target: sc.target,
    folderSync: fs,
    rsync: rs,
    floor: floor?.seconds ?? NaN,
    floorTool: floor ? `${floor.name}${sc.floorNotes?.[floor.name] ? `: ${sc.floorNotes[floor.name]}` : ''}` : '',
    floors: Object.fromEntries(floorMedians.map((f) => [f.name, f.seconds])),
    ratio: fs / rs,
    ratioFloor: fs / (floor?.seconds ?? NaN),
    rsyncRatioFloor: rs / (floor?.seconds ?? NaN),
    complete: names.every((n, j) => times[n].length === (j < 2 ? runs : floorRuns)),
    runs: times,
    rssMiB: { folderSync: median(rss['folder-sync']) / 1024, rsync: median(rss.rsync) / 1024 },
    seconds: (performance.now() - started) / 1000,
  });
  say(`  (${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

const loadBefore = loadavg();
const started = performance.now();
for (const sc of scenarios) if (!only || only.has(sc.id)) runScenario(sc);

// Peak RSS of a no-op pass over small (and over huge with --huge / --long).
const memory = {};
function noopRss(treeName) {
  const src = trees[treeName];
  say(`\n== peak RSS, no-op pass over ${treeName}`);
  presync(src, replica, { link: treeName === 'huge' });
  const values = [];
  for (let i = 0; i < runs; i++) {
    settle(false);
    const r = timed(TOOLS['folder-sync'].argv(src, replica, {}));
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
  removeTree(replica);
}
if (!only || only.has('rss')) {
  noopRss('small');
  if (huge) noopRss('huge');
}
let filterResults;
if (filters && (!only || only.has('filters'))) {
  say('\n== exclude patterns (bench/filters.mjs): folder-sync with patterns vs without');
  try {
    filterResults = filters.filterRows({ cache, runs, smoke: opts.smoke });
  } catch (error) {
    failures.push(`filters: ${error.message}`);
  }
}
const loadAfter = loadavg();

// ---- report ----------------------------------------------------------------------------------------------

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const verdict = (ok) => (ok === undefined ? '' : ok ? 'met' : 'NOT met');
const lines = [];
lines.push(`| figure | place, cache | folder-sync (s) | rsync (s) | floor (s) | floor tool | fs / rsync | fs / floor | rsync / floor | target | |`);
lines.push(`| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |`);
for (const r of results) {
  const ok = r.complete && Number.isFinite(r.ratio) ? r.ratio <= r.target : false;
  const where = r.place === 'tmpfs' ? 'tmpfs' : `disk, ${r.cache}`;
  lines.push(
    `| ${r.label} | ${where} | ${fmt(r.folderSync)} | ${fmt(r.rsync)} | ${fmt(r.floor)} | ${r.floorTool} | ${fmt(r.ratio)} | ${fmt(r.ratioFloor)} | ${fmt(r.rsyncRatioFloor)} | <= ${r.target} | ${r.complete ? verdict(ok) : 'FAILED runs'} |`,
  );
}
if (memory.small !== undefined) {
  lines.push(
    `| peak RSS, no-op over ${smallSpec.files.toLocaleString('en')} files | disk, warm | ${fmt(memory.small, 1)} MiB | | | | | | | <= 100 MiB | ${verdict(memory.small <= 100)} |`,
  );
}
if (memory.huge !== undefined) {
  const ratio = memory.huge / memory.small;
  lines.push(
    `| peak RSS, no-op over ${HUGE.files.toLocaleString('en')} files | disk, warm | ${fmt(memory.huge, 1)} MiB | | | | ${fmt(ratio)} x the 100k figure | | | <= 1.2 x | ${verdict(ratio <= 1.2)} |`,
  );
}
// Rows with more than one floor: each one's median, and folder-sync's ratio to it (the table shows the fastest).
for (const r of results) {
  const all = Object.entries(r.floors);
  if (all.length > 1)
    lines.push(
      `\n${r.label} [${r.place === 'tmpfs' ? 'tmpfs' : r.cache}], every floor: ${all.map(([name, s]) => `${name} ${fmt(s)} s (fs / it ${fmt(r.folderSync / s)}, rsync / it ${fmt(r.rsync / s)})`).join('; ')}`,
    );
}
const raw = ['| figure | tool | runs (s, in run order) |', '| --- | --- | --- |'];
for (const r of results)
  for (const [tool, xs] of Object.entries(r.runs)) raw.push(`| ${r.id} | ${tool} | ${xs.map((x) => x.toFixed(3)).join(', ')} |`);

let commit = 'unknown';
try {
  commit = execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  if (execFileSync('git', ['-C', repo, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim())
    commit += ' (with uncommitted changes)';
} catch {
  // not a git checkout
}
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ${rsyncVersion.replace(/\s+/g, ' ')}`;
const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
const header = [
  `folder-sync vs rsync vs floor, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${commit}, medians of ${runs} run(s) each (floors: ${floorRuns})${opts.smoke ? ' (SMOKE trees: not comparable)' : ''}`,
  `machine: ${machine}`,
  describeEnv(opts['keep-env']),
  `load average (1/5/15 min) at start ${load(loadBefore)}, at end ${load(loadAfter)}; bench took ${((performance.now() - started) / 1000).toFixed(0)} s`,
  `tools alternate (order rotated every run); every run starts after sync(1) and settled write-back; cold = page cache dropped before every run${canDrop ? '' : ' (NOT dropped here: not root, --no-drop or --smoke)'}; warm = one untimed run of each tool first; tmpfs = both trees and the replica under /dev/shm.`,
  `floor = the faster of the floor tools: cp -a / tar c + tar x (copies; the small copies also time node tmp+rename, a bare Node copy through temporaries), two concurrent find -printf %s lstat walks (no-op and incremental; the incremental row also times node bare, the same work in a bare Node program on two threads), two concurrent tar -cf /dev/zero reading every file (checksum).`,
].join('\n');
process.stdout.write(`\n${header}\n\n${lines.join('\n')}\n\nRaw runs:\n\n${raw.join('\n')}\n`);
if (filterResults)
  process.stdout.write(`\nExclude patterns (folder-sync against itself, medians of ${runs}):\n\n${filters.formatRows(filterResults)}\n`);
if (skipped.length) process.stdout.write(`\nSkipped rows:\n${skipped.map((s) => `- ${s}`).join('\n')}\n`);
say(`\nbench took ${((performance.now() - started) / 1000).toFixed(0)} s`);
if (opts.json) {
  writeFileSync(
    opts.json,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        commit,
        machine,
        runs,
        smoke: opts.smoke,
        dropped: canDrop,
        environment: describeEnv(opts['keep-env']),
        load: { before: loadBefore, after: loadAfter },
        results,
        memoryMiB: memory,
        filters: filterResults ?? [],
        failures,
        skipped,
      },
      null,
      2,
    ),
  );
}
if (failures.length) {
  process.stdout.write(`\nFAILED RUNS (not timed):\n${failures.map((f) => `- ${f}`).join('\n')}\n`);
  process.exitCode = 1;
}
