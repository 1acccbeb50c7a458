// The copy helper of _copy-helper-dies.mjs with FOLDER_SYNC_TEST_DYING_HELPER=./_copy-helper-leaving.mjs: it
// takes every file of each batch it is given and leaves each to the pass without writing anything (as when each
// source changed under its copy), so the pass copies them all itself when it settles the batch (walk-copy.ts).
import { parentPort, workerData } from 'node:worker_threads';

const { sharedOf, workOn, jobCount } = await import(new URL('./copy-batch.js', workerData.at).href);
const { helperStart } = await import(new URL('./helper-thread.js', workerData.at).href);
const shared = sharedOf(helperStart(workerData));
parentPort?.on('message', (job) =>
  workOn(shared[job.slot], job, jobCount(job), () => {
    throw new Error('left to the pass');
  }),
);
