/**
 * Copies that outlast their folder's walk (issue 16): a run of new files handed to the copy helper is not waited
 * for where it was found. The walk goes on (lists the next folders, creates them, hands over their runs) while
 * the helper copies, and comes back to the oldest batch only when SLOTS batches are under way, or at the end.
 *
 * Whatever must happen after a batch happens after it, in the order the walk asked for it: the pass's log lines
 * (PassReport holds them back while anything is queued), a folder's own mode and times (set after its files
 * are in), the check that it is still where it was, and the closing of its handles (the helper names files
 * through them). Each is queued here behind the batches before it and run when they are settled, so the log
 * reads, and the replica ends, exactly as if every batch had been waited for where it was found.
 */

/** Something queued behind a batch: run once everything before it is done. */
type Later = () => void | Promise<void>;

/** A batch under way: `ready` when the helper has finished it; `settle` finishes it (helping, logging, the files left). */
export interface Settling {
  ready(): boolean;
  /** Copy on this thread whatever files of the batch no thread has taken yet. */
  help(): void;
  /** `stopping`: the pass is stopping; files the helper left are not copied by the pass (the next pass does them). */
  settle(stopping: boolean): Promise<void>;
}

/** `id`: batches and folder endings are numbered in the order queued (`mark`); log lines are not. */
type Item = { batch: Settling; id: number } | { later: Later; id?: number };

/**
 * Things queued at most (batches, folder endings, log lines): a folder's ending keeps its two handles open, so
 * past this the walk settles every batch first (a batch followed by thousands of folders needs no thousands of
 * handles, nor a log held in memory).
 */
export const MAX_QUEUED = 64;

export class CopyPipeline {
  private readonly queue: Item[] = [];
  private batches = 0;
  private running = false;
  private numbered = 0;

  /** True while anything is queued and not being run: log lines and folder endings then wait their turn. */
  get holding(): boolean {
    return this.queue.length > 0 && !this.running;
  }

  /** True while something queued is being settled or run (nothing may settle the queue from inside it). */
  get settling(): boolean {
    return this.running;
  }

  /** Batches under way (queued, not yet settled). */
  get underWay(): number {
    return this.batches;
  }

  /** Queue a batch the helper has started on. */
  add(batch: Settling): void {
    this.queue.push({ batch, id: this.numbered++ });
    this.batches++;
  }

  /** Where a folder's walk starts: `after(later, mark)` then waits only for what its walk queued (see `after`). */
  mark(): number {
    return this.numbered;
  }

  /** Things queued (see MAX_QUEUED). */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Run `later` now when nothing is queued, else after everything queued before it. With `since` (a folder's
   * ending: its `mark`), also now when no batch or ending queued since then is still waiting: nothing under
   * way writes into that folder or uses its handles, so they are closed at once, not held behind other folders'
   * batches (a few batches followed by hundreds of folders would hold two handles each: EMFILE under a limit
   * the pass otherwise works in). Its log lines still wait their turn (`hold`).
   */
  async after(later: Later, since?: number): Promise<void> {
    if (!this.holding || (since !== undefined && !this.queue.some((item) => item.id !== undefined && item.id >= since))) return await later();
    this.queue.push({ later, id: this.numbered++ });
    if (this.queue.length >= MAX_QUEUED) await this.room(0);
  }

  /** Hold back a synchronous action (a log line) while anything is queued; false when it should run now. */
  hold(later: () => void): boolean {
    if (!this.holding) return false;
    this.queue.push({ later });
    return true;
  }

  /**
   * Settle batches (and run what waits behind them) until at most `keep` are under way; batches the helper has
   * finished already are settled too (they cost nothing to settle, and free their handles).
   */
  async room(keep: number): Promise<void> {
    while (this.queue.length > 0) {
      const head = this.queue[0] as Item;
      if ('batch' in head && !head.batch.ready()) {
        if (this.batches <= keep) return;
        // Too many under way: this thread takes files of the oldest batches until the oldest is finished (the
        // helper is on its last file of it meanwhile), so it never waits while there is a file to copy.
        for (const item of this.queue) {
          if (head.batch.ready()) break;
          if ('batch' in item) item.batch.help();
        }
      }
      await this.runHead(false);
    }
  }

  /**
   * Settle everything. An error (a full disk while copying a file the helper left) stops the rest from copying
   * more, but every batch is still waited for and every handle closed; the first error is thrown after.
   */
  async flush(stopping = false): Promise<void> {
    let first: { error: unknown } | undefined;
    while (this.queue.length > 0) {
      try {
        await this.runHead(stopping || first !== undefined);
      } catch (error) {
        first ??= { error };
      }
    }
    if (first) throw first.error;
  }

  private async runHead(stopping: boolean): Promise<void> {
    const head = this.queue.shift() as Item;
    this.running = true;
    try {
      if ('batch' in head) {
        this.batches--;
        await head.batch.settle(stopping);
      } else {
        await head.later();
      }
    } finally {
      this.running = false;
    }
  }
}
