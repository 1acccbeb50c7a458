// The source read-ahead thread (source-ahead.ts): reads new subtrees' files ahead of the pass, one job at a time.
// Each job's top folder is the pass's descriptor (it closes it once the job is finished); the thread closes
// only what it opens.
import { parentPort, workerData } from 'node:worker_threads';
import { applyHeapFlags } from '../heap.js';
import { aheadGate, finished, READ, SEQ, type AheadMessage } from './source-ahead-gate.js';
import { waitAsync } from './wait-async.js';
import { READ_BYTES, readTreeAhead } from './source-ahead-read.js';
import { ReadRing } from './source-ahead-ring.js';

const { state, v8Flags } = workerData as { state: Int32Array; v8Flags?: string };
applyHeapFlags(v8Flags); // this thread's start reset them for the whole process (heap.ts)
let jobs = Promise.resolve();
/**
 * The reader threads (source-ahead-ring.ts): started with a job, and stopped once no job has come for IDLE_MS
 * (a `run` between passes does not keep them). FOLDER_SYNC_AHEAD_THREADS=0: libuv's pool reads instead (A/B);
 * a number: that many threads.
 */
const IDLE_MS = 1000;
let ring: ReadRing | undefined;
let idle: NodeJS.Timeout | undefined;
const setting = process.env['FOLDER_SYNC_AHEAD_THREADS'];
/** A count of threads: a whole number from 1 (anything else: the default). */
const count = Number(setting);
const threads = Number.isInteger(count) && count >= 1 ? count : undefined;
/** Tests: a job ends only once the pass has left its subtree (as a job that outlasts the subtree's copy does). */
const late = process.env['FOLDER_SYNC_TEST_SOURCE_AHEAD'] === 'late';
const readers = (): ReadRing | undefined => {
  clearTimeout(idle);
  if (setting === '0') return undefined;
  // The threads count each file they read where the pass reads the count (the gate's onRead is the pool's).
  if (!ring?.working) ring = ReadRing.start({ readBytes: READ_BYTES, count: { state, index: READ }, v8Flags, readers: threads });
  return ring;
};
const idleLater = (): void => {
  clearTimeout(idle);
  idle = setTimeout(() => {
    void ring?.stop();
    ring = undefined;
  }, IDLE_MS).unref();
};
parentPort?.on('message', ({ fd, seq, unbounded, maxOpen, skip }: AheadMessage) => {
  jobs = jobs.then(async () => {
    try {
      await readTreeAhead(fd, aheadGate(state, seq), { maxOpen, skip, ring: readers(), ...(unbounded ? { maxAhead: Infinity } : {}) });
      for (let turn = 0; late && Atomics.load(state, SEQ) === seq && turn < 600; turn++) {
        const wait = waitAsync(state, SEQ, seq, 100);
        if (wait.async) await wait.value;
      }
    } finally {
      idleLater();
      finished(state, seq); // the pass's thread closes `fd`, its own: told now, whatever it is doing
      parentPort?.postMessage('finished');
    }
  });
});
