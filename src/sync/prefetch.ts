import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { Entry } from './entry.js';
import { decodeListing, SLOT, visitOrder, type PrefetchMessage } from './prefetch-shared.js';

/**
 * Lists the replica on the second core while the pass lists the source on this one (a no-op pass is two
 * lstat walks; on 2 cores this takes most of the replica's walk off the critical path, see bench/PROFILING.md).
 *
 * A worker thread walks the replica in the pass's own visiting order and stays a bounded number of folders
 * ahead. The pass asks for a folder's listing when it gets there; anything the lister does not have yet (it is
 * starting up or behind, the folder could not be read or appeared since, the lister failed) makes `take`
 * return undefined and the pass lists the folder itself exactly as before. The pass never waits for it. The listing is as fresh as a folder listed just before
 * the pass gets to it: the pass changes a replica folder only after taking its listing.
 */
export class ReplicaPrefetch {
  private readonly state = new Int32Array(new SharedArrayBuffer(4 * 3));
  private readonly port: MessagePort;
  private readonly worker: Worker;
  private next: PrefetchMessage | undefined;

  private constructor(root: string, from: string) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL('./prefetch-worker.js', import.meta.url), {
      workerData: { root, from, port: port2, shared: this.state.buffer },
      transferList: [port2],
      // The lister holds a few listings at a time: a small heap is plenty, and keeps peak memory down.
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 },
    });
    this.worker.unref();
    this.worker.on('error', () => this.stop()); // the pass goes on listing by itself
  }

  /**
   * Start a lister for a replica root whose listings begin at folder `from` (the pass listed the ones before
   * it), or undefined where it cannot run (the engine loaded from its TypeScript sources, as in unit tests).
   */
  static start(root: string, from = ''): ReplicaPrefetch | undefined {
    if (!import.meta.url.endsWith('.js')) return undefined;
    try {
      return new ReplicaPrefetch(root, from);
    } catch {
      return undefined;
    }
  }

  /**
   * The replica listing of folder `rel` (relative to the root; '' for the root) with the folder's identity
   * (`folderId`) when it was listed, or undefined: list it yourself.
   */
  take(rel: string): { entries: Entry[]; id: string } | undefined {
    for (;;) {
      const message = this.next ?? this.receive();
      if (!message) return undefined;
      if (message.done) {
        this.next = message;
        return undefined;
      }
      const order = visitOrder(message.rel, rel);
      if (order > 0) {
        this.next = message; // the lister has not got this folder (it appeared since); keep its later ones
        return undefined;
      }
      this.next = undefined;
      if (order < 0) continue; // a folder the pass does not visit (removed, replaced, below an unreadable one)
      return message.failed ? undefined : { entries: decodeListing(message), id: message.id };
    }
  }

  /**
   * The next message if the lister has posted it, else undefined. Never waits: when the lister is behind
   * (starting up, or a slow folder) the pass lists the folder itself, and the lister's copy is dropped later.
   */
  private receive(): PrefetchMessage | undefined {
    if (Atomics.load(this.state, SLOT.stop) !== 0) return undefined;
    const got = receiveMessageOnPort(this.port);
    if (!got) return undefined;
    Atomics.add(this.state, SLOT.consumed, 1);
    Atomics.notify(this.state, SLOT.consumed);
    return got.message as PrefetchMessage;
  }

  stop(): void {
    Atomics.store(this.state, SLOT.stop, 1);
    Atomics.notify(this.state, SLOT.consumed);
  }

  async close(): Promise<void> {
    this.stop();
    this.port.close();
    await this.worker.terminate();
  }
}
