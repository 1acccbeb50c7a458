// The copy helper thread (see copy-batch.ts): on each batch's message, takes files from the shared counter and
// copies the plain ones until none is left. A message that arrives after its batch is over costs one look.
import { parentPort, workerData } from 'node:worker_threads';
import { helperStart } from './helper-thread.js';
import { jobCount, sharedOf, workOn, type BatchJob } from './copy-batch.js';

const shared = sharedOf(helperStart(workerData));
parentPort?.on('message', (job: BatchJob) => workOn(shared[job.slot] as (typeof shared)[number], job, jobCount(job)));
