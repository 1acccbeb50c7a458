// What Node itself allows for the no-op row (issue 16): both trees listed (readdir, then lstat with nanosecond
// times of every entry, as the pass lists) on two threads, with none of the pass's work (no opened folders, no
// identity checks, no planning, no log): the walk of bench/floor-walk.mjs.
// It times the same pass of `node dist/cli.js sync-once` and `rsync -a --delete` in alternation, so the three
// columns come from the same minutes. Reports; asserts nothing. Run it with the machine otherwise idle.
//
//   node bench/node-floor.mjs <source> <replica, already a mirror of source> [--runs 7]
import { execFileSync } from 'node:child_process';
import { cronEnv } from './env.mjs';
import { CLAIMED_BY_MAIN, CLAIMED_BY_WORKER, newClaims, walkBoth } from './floor-walk.mjs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

function floorOnce(src, dst) {
  return new Promise((done, fail) => {
    const started = performance.now();
    const claims = newClaims();
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
