// Preload (`node --import`) for tests that watch when the built CLI creates a thread, and which module it runs.
// Marked at creation, in the CLI's own thread: a thread that had not run any code yet when a short pass ended counts.
import { syncBuiltinESMExports } from 'node:module';
import wt from 'node:worker_threads';

if (wt.isMainThread) {
  const Worker = wt.Worker;
  wt.Worker = class extends Worker {
    constructor(url, opts) {
      process.stderr.write(`thread started: ${String(url).split('/').pop()}\n`);
      super(url, opts);
    }
  };
  syncBuiltinESMExports();
}
