/**
 * The state the pass and the source read-ahead thread share (source-ahead.ts): one Int32Array over a
 * SharedArrayBuffer. Kept apart so that the thread loads only this and the reader (source-ahead-read.ts).
 */
import type { AheadGate } from './source-ahead-read.js';
import { waitAsync } from './wait-async.js';

/** The job under way (0: none; a job whose number is no longer here stops). */
export const SEQ = 0;
/** Copies the pass has started in the job's subtree so far. */
export const CONSUMED = 1;
/** Files read ahead, all jobs of the process. */
export const READ = 2;
/** The last job the thread finished (tests: FOLDER_SYNC_TEST_SOURCE_AHEAD=first waits for it). */
export const FINISHED = 3;
export const STATE_INTS = 4;

/** One job: a descriptor of the subtree's top (the pass's; it closes it after FINISHED) and the job's number. */
export interface AheadMessage {
  fd: number;
  seq: number;
  /** Tests: no bound (the pass waits until the whole subtree is read). */
  unbounded?: boolean;
  /** Descriptors the reader may hold at once (source-ahead-read.ts). */
  maxOpen: number;
  /** Mount points below the subtree's top, as paths from it: never opened (source-ahead.ts `mountsBelow`). */
  skip: string[];
}

/** How the thread's reader sees job `seq` through the shared state. */
export function aheadGate(state: Int32Array, seq: number): AheadGate {
  return {
    consumed: () => Atomics.load(state, CONSUMED),
    stopped: () => Atomics.load(state, SEQ) !== seq,
    waitForPass: async (seen) => {
      const wait = waitAsync(state, CONSUMED, seen, 1000);
      if (wait.async) await wait.value;
    },
    onRead: () => void Atomics.add(state, READ, 1),
  };
}

/** The thread finished job `seq`. */
export function finished(state: Int32Array, seq: number): void {
  Atomics.store(state, FINISHED, seq);
  Atomics.notify(state, FINISHED);
}
