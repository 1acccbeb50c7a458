/**
 * The one mechanism behind both helper threads (`--checksum`'s compare-worker.ts, the copies' copy-worker.ts):
 * a worker that never keeps the process alive between batches, gets one message per batch, takes items from a
 * claim counter shared with the pass, and counts the items it finishes, which the pass awaits without blocking
 * its event loop.
 */
import { Worker } from 'node:worker_threads';
import { applyHeapFlags, heapFlagsForWorkers } from '../heap.js';
import { unpinWorkingFolder } from './working-folder.js';
import { waitAsync } from './wait-async.js';

/** What a helper thread starts with: the shared state, and the CLI's V8 flags to set again (heap.ts). */
export interface HelperData {
  shared: SharedArrayBuffer;
  v8Flags?: string;
}

/** In the helper thread, first thing: its shared state, after setting the CLI's V8 flags again (heap.ts). */
export function helperStart(data: unknown): SharedArrayBuffer {
  const { shared, v8Flags } = data as HelperData;
  applyHeapFlags(v8Flags);
  return shared;
}

/**
 * The state a batch's items are shared by, in one SharedArrayBuffer: a 64-bit claim word (batch number << 32 |
 * next unclaimed item), the number of items finished in the current batch, then one Int32 state per entry (a
 * file, a pair): both threads take the next item from the claim word, so a batch costs one message however many
 * items it holds.
 */
export interface ClaimState {
  buffer: SharedArrayBuffer;
  claim: BigInt64Array;
  ints: Int32Array;
}

const CLAIM = 0; // BigInt64Array index
const FINISHED = 2; // Int32Array index (bytes 8..11)
/** Int32Array index of entry 0's state (bytes 16..). */
export const STATE = 4;

/** The bytes of one claim state for batches of up to `states` entries (a multiple of 8: states side by side). */
export const claimBytes = (states: number): number => 16 + 4 * states + ((states & 1) === 1 ? 4 : 0);

/**
 * The shared state for batches of up to `states` entries (over `buffer`: the helper's side of it), at byte
 * `offset` of it (several states side by side: claimBytes each).
 */
export function claimState(states: number, buffer = new SharedArrayBuffer(claimBytes(states)), offset = 0): ClaimState {
  return { buffer, claim: new BigInt64Array(buffer, offset, 1), ints: new Int32Array(buffer, offset, 4 + states) };
}

/** Make batch `seq` the current one: its `states` entries set to `initial`, none finished, then (last) item 0 up. */
export function openBatch(s: ClaimState, seq: number, states: number, initial: number): void {
  s.ints.fill(initial, STATE, STATE + states);
  Atomics.store(s.ints, FINISHED, 0);
  Atomics.store(s.claim, CLAIM, BigInt(seq) << 32n); // last: the other thread may take items from here on
}

/** Take the next item of batch `seq` (of `count` items): its index, or -1 when none is left or another batch is current. */
export function claimNext(s: ClaimState, seq: bigint, count: number): number {
  for (;;) {
    const word = Atomics.load(s.claim, CLAIM);
    if (word >> 32n !== seq) return -1;
    const item = Number(word & 0xffffffffn);
    if (item >= count) return -1;
    if (Atomics.compareExchange(s.claim, CLAIM, word, word + 1n) === word) return item; // else the other thread took it
  }
}

/** An item is finished (its state already set): counted, and the pass waiting on the batch woken. */
export function finishItem(s: ClaimState): void {
  Atomics.add(s.ints, FINISHED, 1);
  Atomics.notify(s.ints, FINISHED);
}

/** How many items of the current batch are finished. */
export const finishedItems = (s: ClaimState): number => Atomics.load(s.ints, FINISHED);

export class HelperThread {
  alive = true;
  /** Batches handed over (one message each, however many items they hold). */
  messages = 0;
  private readonly worker: Worker;
  /** Ends the current wait in `finished` (the thread died: a wait's own timeout does not keep the process alive). */
  private wake?: () => void;

  constructor(url: URL, shared: SharedArrayBuffer) {
    this.worker = new Worker(url, {
      workerData: { shared, v8Flags: heapFlagsForWorkers() } satisfies HelperData,
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 },
    });
    this.worker.unref(); // never keeps the process alive between batches
    const die = (): void => {
      this.alive = false;
      this.wake?.();
    };
    this.worker.on('error', die);
    this.worker.on('exit', die);
  }

  /** Hand a batch over; the thread keeps the process alive until `release` (the batch is being waited for). */
  post(message: unknown): boolean {
    try {
      this.worker.ref();
      this.worker.postMessage(message);
      this.messages++;
      return true;
    } catch {
      this.alive = false;
      return false;
    }
  }

  release(): void {
    this.worker.unref();
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }

  /**
   * Wait (asynchronously) until `total` items of the current batch are finished, or the thread has died. A real
   * wait lets other code on this thread run: it gets the process's own working folder, not one the walk pinned
   * (access.ts), whichever batch (copies, compares) is waited for.
   */
  async finished(s: ClaimState, total: number): Promise<void> {
    for (let n = finishedItems(s); n < total && this.alive; n = finishedItems(s)) {
      const wait = waitAsync(s.ints, FINISHED, n, 50);
      if (wait.async) {
        unpinWorkingFolder();
        // Woken by the thread's death too: else, once its handle is gone, nothing keeps the process alive
        // (Atomics.waitAsync's timeout does not) and it ends in the middle of the pass (exit code 13).
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          void wait.value.then(() => resolve());
        });
        this.wake = undefined;
      }
    }
  }
}
