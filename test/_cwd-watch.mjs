// Preload (`node --import`) for tests of the built CLI: at every turn of the main thread's event loop, checks that
// the process's working folder is the one it started in. The access layer may move it into an opened folder only
// for synchronous stretches of work (docs/security.md), so no callback, timer or signal handler ever sees it
// moved. (Helper threads run beside those stretches and name everything by absolute path: not watched.)
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  const home = process.cwd();
  let turns = 0;
  const check = () => {
    turns++;
    const now = process.cwd();
    if (now !== home) process.stderr.write(`cwd moved: ${now}\n`);
    setImmediate(check).unref();
  };
  setImmediate(check).unref();
  process.on('exit', () => process.stderr.write(`cwd checked at ${turns} turns\n`));
}
