// What Node itself allows for the no-op row (issue 16): both trees listed (readdir, then lstat with nanosecond
// times of every entry, as the pass lists) on two threads, with none of the pass's work (no opened folders, no
// identity checks, no planning, no log). The main thread lstats bare names after a chdir into each folder (as
// the pass's listing does); the worker, which cannot move the process's working folder, lstats whole paths (as
// the look-ahead thread does). Each folder pair is listed once, by whichever thread reaches it first (a shared
// table of claims by path hash); the main thread goes front to back, the worker back to front.
// It times the same pass of `node dist/cli.js sync-once` and `rsync -a --delete` in alternation, so the three
// columns come from the same minutes. Reports; asserts nothing. Run it with the machine otherwise idle.
//
//   node bench/node-floor.mjs <source> <replica, already a mirror of source> [--runs 7]
import { execFileSync } from 'node:child_process';
import { cronEnv } from './env.mjs';
import { lstatSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const SLOTS = 1 << 22;
const CLAIMED_BY_MAIN = 1;
const CLAIMED_BY_WORKER = 2;
const DONE = 4;

function slot(rel) {
  let h = 2166136261;
  for (let i = 0; i < rel.length; i++) h = Math.imul(h ^ rel.charCodeAt(i), 16777619);
  return (h >>> 0) & (SLOTS - 1);
}

/** List both trees' folders from the top, claiming each folder pair; returns the entries this thread lstat'ed. */
function walkBoth(src, dst, claims, me, byName, backwards) {
  const list = byName
    ? (dir) => {
        process.chdir(dir);
        return readdirSync('.').map((name) => [name, lstatSync(name, { bigint: true })]);
      }
    : (dir) => readdirSync(dir).map((name) => [name, lstatSync(join(dir, name), { bigint: true })]);
  let entries = 0;
  const visit = (rel) => {
    const at = slot(rel);
    const was = Atomics.compareExchange(claims, at, 0, me);
    if (was & DONE) return; // the other thread has listed this subtree
    let folders;
    if (was === 0) {
      const srcList = list(join(src, rel));
      entries += srcList.length + list(join(dst, rel)).length;
      folders = srcList.filter(([, st]) => st.isDirectory()).map(([name]) => name);
    } else {
      // Claimed by the other thread, which lists it; only its subfolders may still be free (names only).
      folders = readdirSync(join(src, rel), { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    }
    folders.sort();
    if (backwards) folders.reverse();
    for (const name of folders) visit(rel === '' ? name : `${rel}/${name}`);
    if (was === 0) Atomics.or(claims, at, DONE);
  };
  visit('');
  return entries;
}

function floorOnce(src, dst) {
  return new Promise((done, fail) => {
    const started = performance.now();
    const claims = new Int32Array(new SharedArrayBuffer(SLOTS * 4));
    const worker = new Worker(new URL(import.meta.url), { workerData: { src, dst, claims } });
    worker.once('error', fail);
    const mine = walkBoth(src, dst, claims, CLAIMED_BY_MAIN, true, false);
    worker.once('message', (theirs) => {
      process.chdir('/');
      done({ ms: performance.now() - started, mine, theirs });
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (!isMainThread) {
  const { src, dst, claims } = workerData;
  parentPort.postMessage(walkBoth(src, dst, claims, CLAIMED_BY_WORKER, false, true));
} else {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { runs: { type: 'string', default: '7' }, 'floor-only': { type: 'boolean', default: false } },
  });
  if (positionals.length !== 2) throw new Error('usage: node bench/node-floor.mjs <source> <replica> [--runs 7]');
  const [src, dst] = positionals.map((p) => resolve(p));
  if (values['floor-only']) {
    // One floor run in this process (the parent times the whole process, start-up and exit included).
    console.log(JSON.stringify(await floorOnce(src, dst)));
    process.exit(0);
  }
  const cli = resolve(import.meta.dirname, '..', 'dist', 'cli.js');
  const env = cronEnv(); // as bench/run.mjs: the environment cron gives a scheduled pass
  const tools = {
    'node floor': () => JSON.parse(execFileSync(process.execPath, [import.meta.filename, '--floor-only', src, dst], { env, encoding: 'utf8' })),
    'folder-sync': () => execFileSync(process.execPath, [cli, 'sync-once', src, dst, '--quiet'], { env, stdio: 'ignore' }),
    rsync: () => execFileSync('rsync', ['-a', '--delete', `${src}/`, `${dst}/`], { env, stdio: 'ignore' }),
  };
  const times = Object.fromEntries(Object.keys(tools).map((t) => [t, []]));
  const walks = [];
  for (let run = 0; run < Number(values.runs); run++) {
    const order = Object.keys(tools);
    for (let k = 0; k < run % order.length; k++) order.push(order.shift()); // rotate: no tool always first
    for (const tool of order) {
      const started = performance.now();
      const out = tools[tool]();
      times[tool].push(performance.now() - started);
      if (tool === 'node floor') walks.push(out);
    }
  }
  const rsync = median(times.rsync);
  for (const [tool, ms] of Object.entries(times))
    console.log(
      `${tool.padEnd(12)} median ${median(ms).toFixed(0).padStart(5)} ms  (/ rsync ${(median(ms) / rsync).toFixed(2)})  runs ${ms.map((m) => m.toFixed(0)).join(' ')}`,
    );
  const last = walks.at(-1);
  console.log(
    `node floor, the walk alone: median ${median(walks.map((w) => w.ms)).toFixed(0)} ms; entries lstat'ed by the main thread ${last.mine}, by the worker ${last.theirs}`,
  );
}
