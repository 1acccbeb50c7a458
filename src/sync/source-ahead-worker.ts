// The source read-ahead thread (source-ahead.ts): reads new subtrees' files ahead of the pass, one job at a time.
// Each job's top folder is the pass's descriptor (it closes it once the job is finished); the thread closes
// only what it opens.
import { parentPort, workerData } from 'node:worker_threads';
import { applyHeapFlags } from '../heap.js';
import { aheadGate, finished, type AheadMessage } from './source-ahead-gate.js';
import { readTreeAhead } from './source-ahead-read.js';

const { state, v8Flags } = workerData as { state: Int32Array; v8Flags?: string };
applyHeapFlags(v8Flags); // this thread's start reset them for the whole process (heap.ts)
let jobs = Promise.resolve();
parentPort?.on('message', ({ fd, seq, unbounded, maxOpen }: AheadMessage) => {
  jobs = jobs.then(async () => {
    try {
      await readTreeAhead(fd, aheadGate(state, seq), { maxOpen, ...(unbounded ? { maxAhead: Infinity } : {}) });
    } finally {
      finished(state, seq); // the pass's thread closes `fd`, its own
    }
  });
});
