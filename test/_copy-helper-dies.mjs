// Preload (`node --import`, through NODE_OPTIONS) for review10's tests: the built CLI's copy helper thread runs
// _copy-helper-dying.mjs instead of copy-worker.js. That one takes the first file of each batch from the shared
// counter and then ends its thread (as a helper that hits an error it cannot survive: out of memory, a module it
// cannot load under a descriptor limit) without finishing it. No hook in the product: Worker is wrapped.
// FOLDER_SYNC_TEST_DYING_HELPER=./_copy-helper-dying-mid-write.mjs: another dying helper (walk-build.test.ts).
import { syncBuiltinESMExports } from 'node:module';
import wt from 'node:worker_threads';

if (wt.isMainThread) {
  const Worker = wt.Worker;
  wt.Worker = class extends Worker {
    constructor(url, opts) {
      const dying = String(url).endsWith('/copy-worker.js');
      super(
        dying ? new URL(process.env.FOLDER_SYNC_TEST_DYING_HELPER ?? './_copy-helper-dying.mjs', import.meta.url) : url,
        dying ? { ...opts, workerData: { ...opts.workerData, at: String(url) } } : opts,
      );
    }
  };
  syncBuiltinESMExports();
}
