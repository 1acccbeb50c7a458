// A copy helper for _copy-helper-dies.mjs (walk-build.test.ts, from review 14): it dies (as on running out of
// memory) half-way through writing the first file it takes, under that file's own name when the batch is written
// so (a new folder being built), and deletes that source file first, so the pass cannot copy it again.
import { constants, closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const { sharedOf, workOn, jobCount } = await import(new URL('./copy-batch.js', workerData.at).href);
const { helperStart } = await import(new URL('./helper-thread.js', workerData.at).href);
const shared = sharedOf(helperStart(workerData));
parentPort?.on('message', (job) =>
  workOn(shared[job.slot], job, jobCount(job), (i) => {
    const name = job.names.split('\0')[i];
    const data = readFileSync(`/proc/self/fd/${job.srcFd}/${name}`);
    unlinkSync(`/proc/self/fd/${job.srcFd}/${name}`);
    const out = job.direct ? name : `.folder-sync-partial-dying${i}`;
    const fd = openSync(`/proc/self/fd/${job.dstFd}/${out}`, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    writeSync(fd, data, 0, data.length >> 1);
    closeSync(fd);
    process.stderr.write(`test hook: helper died writing ${name}\n`);
    process.exit(1);
  }),
);
