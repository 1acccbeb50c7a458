// What Node itself allows for the incremental row (issue 16, session 12): a bare program that does the row's
// work with none of the pass's guards. It lists both trees on two threads as bench/node-floor.mjs does for the
// no-op (bench/floor-walk.mjs: main thread front to back by bare name after a chdir, worker back to front by
// whole path, each folder pair listed once), compares each folder pair by type, size and mtime, and applies what
// differs: a changed or new file is copied into a temporary beside it (copyFileSync: copy_file_range, the mode
// copied), its times set, and renamed over the old one; a replica entry the source lacks is removed; the folder's
// times are set again. No opened folders, no identity checks, no planner, no log, no owners.
//
// `main`: the worker only lists and posts its folders' changes; the main thread applies all of them, taking the
// worker's after each folder of its own that had changes (folder-sync's split: its look-ahead thread never
// writes). `both`: each thread applies the changes of the folders it listed. Both are timed beside `sync-once`
// and rsync, in alternation, each run over a fresh copy of the stale replica (rsync -a --delete, then sync: as
// bench/run.mjs's incremental row). Reports; asserts nothing. Run it with the machine otherwise idle.
//
//   node bench/node-floor-inc.mjs <source> <stale replica> <replica> [--runs 7]
//   node bench/node-floor-inc.mjs --once main|both <source> <replica>   (one run; bench/run.mjs's 'node bare' floor)
import { execFileSync } from 'node:child_process';
import { copyFileSync, lstatSync, renameSync, rmSync, utimesSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, receiveMessageOnPort, Worker, workerData } from 'node:worker_threads';
import { cronEnv } from './env.mjs';
import { CLAIMED_BY_MAIN, CLAIMED_BY_WORKER, newClaims, secs, walkBoth } from './floor-walk.mjs';

/** What differs in one folder pair: ['copy', name, times] or ['remove', name]. */
function diff(srcList, dstList) {
  const there = new Map(dstList);
  const out = [];
  for (const [name, st] of srcList) {
    const d = there.get(name);
    there.delete(name);
    if (st.isDirectory()) {
      if (d && !d.isDirectory()) out.push(['remove', name]);
      continue;
    }
    if (!d || !d.isFile() || d.size !== st.size || d.mtimeNs !== st.mtimeNs)
      out.push(['copy', name, { atime: secs(st.atimeNs), mtime: secs(st.mtimeNs) }]);
  }
  for (const name of there.keys()) out.push(['remove', name]);
  return out;
}

let serial = 0;
/** Apply a folder pair's changes (whole paths: the worker cannot chdir, the main thread's cwd is not relied on). */
function apply(srcDir, dstDir, changes) {
  for (const [kind, name, st] of changes) {
    const to = join(dstDir, name);
    if (kind === 'remove') {
      rmSync(to, { recursive: true, force: true });
      continue;
    }
    const tmp = join(dstDir, `.floor-${process.pid}-${serial++}.tmp`);
    copyFileSync(join(srcDir, name), tmp);
    utimesSync(tmp, st.atime, st.mtime); // `secs` (floor-walk.mjs)
    renameSync(tmp, to);
  }
  const own = lstatSync(srcDir, { bigint: true }); // the folder's times, changed by the entries made and removed in it
  utimesSync(dstDir, secs(own.atimeNs), secs(own.mtimeNs));
}

function floorOnce(src, dst, writes) {
  return new Promise((done, fail) => {
    const started = performance.now();
    const claims = newClaims();
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(new URL(import.meta.url), { workerData: { src, dst, claims, writes, port: port2 }, transferList: [port2] });
    worker.once('error', fail);
    let applied = 0;
    const takeTheirs = () => {
      for (let m; (m = receiveMessageOnPort(port1));) {
        const [srcDir, dstDir, changes] = m.message;
        apply(srcDir, dstDir, changes);
        applied += changes.length;
      }
    };
    const mine = walkBoth(src, dst, claims, CLAIMED_BY_MAIN, true, false, (s, d, srcList, dstList) => {
      const changes = diff(srcList, dstList);
      if (!changes.length) return;
      apply(s, d, changes);
      applied += changes.length;
      takeTheirs();
    });
    worker.once('message', (theirs) => {
      takeTheirs();
      process.chdir('/');
      done({ ms: performance.now() - started, mine, theirs: theirs.entries, appliedByMain: applied, appliedByWorker: theirs.applied });
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (!isMainThread) {
  const { src, dst, claims, writes, port } = workerData;
  let applied = 0;
  const entries = walkBoth(src, dst, claims, CLAIMED_BY_WORKER, false, true, (s, d, srcList, dstList) => {
    const changes = diff(srcList, dstList);
    if (!changes.length) return;
    if (writes === 'both') {
      apply(s, d, changes);
      applied += changes.length;
    } else port.postMessage([s, d, changes]);
  });
  parentPort.postMessage({ entries, applied });
} else {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      runs: { type: 'string', default: '7' },
      once: { type: 'string' },
    },
  });
  if (values.once) {
    // One floor run in this process (the parent times the whole process, start-up and exit included).
    const [src, dst] = positionals.map((p) => resolve(p));
    if (positionals.length !== 2 || !['main', 'both'].includes(values.once)) throw new Error('usage: --once main|both <source> <replica>');
    console.log(JSON.stringify(await floorOnce(src, dst, values.once)));
    process.exit(0);
  }
  if (positionals.length !== 3) throw new Error('usage: node bench/node-floor-inc.mjs <source> <stale replica> <replica> [--runs 7]');
  const [src, stale, dst] = positionals.map((p) => resolve(p));
  const cli = resolve(import.meta.dirname, '..', 'dist', 'cli.js');
  const env = cronEnv(); // as bench/run.mjs: the environment cron gives a scheduled pass
  const floor = (writes) => () =>
    JSON.parse(execFileSync(process.execPath, [import.meta.filename, '--once', writes, src, dst], { env, encoding: 'utf8' }));
  const tools = {
    'floor, both write': floor('both'),
    'floor, main writes': floor('main'),
    'folder-sync': () => execFileSync(process.execPath, [cli, 'sync-once', src, dst, '--quiet'], { env, stdio: 'ignore' }),
    rsync: () => execFileSync('rsync', ['-a', '--delete', `${src}/`, `${dst}/`], { env, stdio: 'ignore' }),
  };
  const times = Object.fromEntries(Object.keys(tools).map((t) => [t, []]));
  const last = {};
  for (let run = 0; run < Number(values.runs); run++) {
    const order = Object.keys(tools);
    for (let k = 0; k < run % order.length; k++) order.push(order.shift()); // rotate: no tool always first
    for (const tool of order) {
      execFileSync('rsync', ['-a', '--delete', `${stale}/`, `${dst}/`]);
      execFileSync('sync');
      const started = performance.now();
      const out = tools[tool]();
      times[tool].push(performance.now() - started);
      if (out) last[tool] = out;
      // Every tool must leave a mirror: rsync -n must find nothing to do.
      const left = execFileSync('rsync', ['-ain', '--delete', `${src}/`, `${dst}/`], { encoding: 'utf8' }).trim();
      if (left) throw new Error(`${tool} left the replica unlike the source:\n${left.split('\n').slice(0, 5).join('\n')}`);
    }
  }
  const rsync = median(times.rsync);
  for (const [tool, ms] of Object.entries(times))
    console.log(
      `${tool.padEnd(18)} median ${median(ms).toFixed(0).padStart(5)} ms  (/ rsync ${(median(ms) / rsync).toFixed(2)})  runs ${ms.map((m) => m.toFixed(0)).join(' ')}`,
    );
  for (const [tool, out] of Object.entries(last)) console.log(`${tool}, last run inside the process: ${JSON.stringify(out)}`);
}
