/**
 * The look-ahead thread's side (lookahead.ts has the why, the pass's side and the messages): walk the tree back
 * to front (lookahead-walk.ts), post what it finds a few at a time, and stop where the pass has already been.
 * Loaded by lookahead-worker.ts only.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { PLAN_STEPS_WAITING, type AheadMessage, type Finding, type PlanFinding } from './lookahead.js';
import { holds, stillAhead, verifyTree, type AheadJob } from './lookahead-walk.js';

/** How long a finding may wait in the thread before it is posted (findings are posted together, a few a message). */
const POST_EVERY_MS = 5;

/** The thread's side (lookahead-worker.ts): walk, post what it finds, stop where the pass has already been. */
export function runAhead(job: AheadJob, port: MessagePort, waiting: Int32Array): void {
  const cap = Number(process.env['FOLDER_SYNC_TEST_PLAN_STEPS'] ?? PLAN_STEPS_WAITING); // tests: a smaller cap
  let passAt: string[] = [];
  // Tests: the thread fails after its first finding (the pass must carry on without it); or (first-hold) it
  // stays, busy as far as the pass can tell, until the pass ends it (the pass then compares on its own thread).
  const crash = process.env['FOLDER_SYNC_TEST_LOOKAHEAD'] === 'first-crash';
  const hold = process.env['FOLDER_SYNC_TEST_LOOKAHEAD'] === 'first-hold';
  // Findings wait here a few milliseconds: a folder found clean replaces those inside it still waiting (a folder
  // is finished after everything in it, so they are the last ones), which keeps a 1M-file pass to a few hundred
  // messages instead of one per folder (measured: 19 MiB less peak RSS over 1,000,000 files).
  let pending: (Finding | PlanFinding)[] = [];
  let last = performance.now();
  const post = (): void => {
    if (pending.length > 0) port.postMessage(pending satisfies AheadMessage);
    pending = [];
    last = performance.now();
  };
  try {
    verifyTree(job, {
      clean: (rel, checked, ids) => {
        const inside = `${rel}/`;
        while (pending.length > 0 && pending[pending.length - 1]![0].startsWith(inside)) pending.pop();
        pending.push([rel, checked, ids]);
        if (crash) throw new Error('look-ahead test crash');
      },
      planned: (rel, plan, ids) => {
        if (Atomics.load(waiting, 0) + plan.steps.length > cap) {
          Atomics.add(waiting, 1, 1); // the pass lists this one (memory)
          return;
        }
        Atomics.add(waiting, 0, plan.steps.length);
        pending.push([rel, plan, ids]);
      },
      ahead: (rel) => {
        if (performance.now() - last >= POST_EVERY_MS) post();
        for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) passAt = (m.message as string).split('/');
        return stillAhead(rel, passAt);
      },
      entered: (rel) => holds(rel, passAt),
    });
  } finally {
    // Also after an error: what was found stays true; the pass walks everything else.
    post();
    if (hold) {
      port.postMessage('walked' satisfies AheadMessage);
      port.on('message', () => undefined); // keeps the thread until the pass closes it
    } else {
      port.postMessage('done' satisfies AheadMessage);
    }
  }
}
