// The copy helper of _copy-helper-dies.mjs: takes one file of each batch it is given, then ends its thread.
import { parentPort, workerData } from 'node:worker_threads';

const { sharedOf, workOn, jobCount } = await import(new URL('./copy-batch.js', workerData.at).href);
const { helperStart } = await import(new URL('./helper-thread.js', workerData.at).href);
const shared = sharedOf(helperStart(workerData));
parentPort?.on('message', (job) => workOn(shared[job.slot], job, jobCount(job), () => process.exit(1)));
