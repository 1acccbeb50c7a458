// The look-ahead thread (see lookahead.ts): one walk per pass, back to front, looking only.
import { workerData, type MessagePort } from 'node:worker_threads';
import { applyHeapFlags } from '../heap.js';
import { loadHash } from './compare.js';
import { runAhead } from './lookahead-thread.js';
import type { AheadJob } from './lookahead-walk.js';

const { job, port, v8Flags, waiting } = workerData as { job: AheadJob; port: MessagePort; v8Flags?: string; waiting: Int32Array };
applyHeapFlags(v8Flags); // this thread's start reset them for the whole process (heap.ts)
if (job.checksum) await loadHash(); // the pass's block hash (compare.ts)
runAhead(job, port, waiting);
