/**
 * The one mechanism behind both helper threads (`--checksum`'s compare-worker.ts, the copies' copy-worker.ts):
 * a worker that never keeps the process alive between batches, gets one message per batch, and notifies an
 * Int32Array slot as it finishes items, which the pass awaits without blocking its event loop.
 */
import { Worker } from 'node:worker_threads';
import { applyHeapFlags, heapFlagsForWorkers } from '../heap.js';

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

/** Atomics.waitAsync (Node 16+; not in the ES2023 lib this project compiles against). */
type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

export class HelperThread {
  alive = true;
  /** Batches handed over (one message each, however many items they hold). */
  messages = 0;
  private readonly worker: Worker;

  constructor(url: URL, shared: SharedArrayBuffer) {
    this.worker = new Worker(url, {
      workerData: { shared, v8Flags: heapFlagsForWorkers() } satisfies HelperData,
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 },
    });
    this.worker.unref(); // never keeps the process alive between batches
    const die = (): void => {
      this.alive = false;
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

  /** Wait (asynchronously) until `ints[slot]` reaches `total`, or the thread has died. */
  async finished(ints: Int32Array, slot: number, total: number): Promise<void> {
    for (let n = Atomics.load(ints, slot); n < total && this.alive; n = Atomics.load(ints, slot)) {
      const wait = waitAsync(ints, slot, n, 50);
      if (wait.async) await wait.value;
    }
  }
}
