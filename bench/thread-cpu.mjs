// CPU time of every thread of one Node process, from the kernel's own accounting (session 12, issue 16). Load it
// before the program: `node --import ./bench/thread-cpu.mjs dist/cli.js sync-once SRC DST --quiet`. At exit it
// writes to stderr, from /proc/<tid>/schedstat: each thread's time on a CPU, its time waiting for one (runnable,
// not running: the cost of sharing the cores) and its time slices.
// - A worker thread started from a file (the look-ahead, the copy or compare helper) says its own line when it
//   ends, as `worker N` (Node gives `--import` to those, not to `eval: true` workers).
// - The main thread says the rest when the process exits: itself, then the process's other threads by thread id.
//   In a Node 20 process those are V8's platform threads (background JIT compilation, and GC helpers), libuv's
//   thread pool (started by the first asynchronous file call), and an inspector/signal thread; which is which is
//   not named here (every thread is called `node`): the order of creation is the platform's four first, then
//   the pool's four.
// Linux only. A measuring aid: nothing in the engine reads it.
import { readdirSync, readFileSync, writeSync } from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';

function line(label, path) {
  try {
    const [cpu, wait, slices] = readFileSync(path, 'utf8').trim().split(' ').map(Number);
    return `${label.padEnd(14)} cpu ${(cpu / 1e6).toFixed(1).padStart(7)} ms  waiting for a cpu ${(wait / 1e6).toFixed(1).padStart(6)} ms  slices ${slices}`;
  } catch {
    return undefined; // the thread ended meanwhile
  }
}

process.on('exit', () => {
  if (!isMainThread) {
    const own = line(`worker ${threadId}`, '/proc/thread-self/schedstat');
    if (own) writeSync(2, `${own}\n`);
    return;
  }
  const tids = readdirSync('/proc/self/task')
    .map(Number)
    .sort((a, b) => a - b);
  const rows = tids.map((tid) => line(tid === process.pid ? 'main' : `thread ${tid}`, `/proc/self/task/${tid}/schedstat`));
  writeSync(2, `${rows.filter(Boolean).join('\n')}\n`);
});
