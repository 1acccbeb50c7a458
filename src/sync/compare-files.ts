/**
 * The pass's side of --checksum: a folder's pairs handed out as batches (compare-batch.ts), each shared with the
 * compare helper thread, which this module starts, keeps and stops.
 */
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { HelperThread } from './helper-thread.js';
import { fsReader, loadHash, type ComparePair, type FileReader, type Verdict } from './compare.js';
import { batchOf, encodeBatch, makeShared, MAX_PAIRS, publish, verdictsOf, workOn, type Shared } from './compare-batch.js';

/** The helper thread: compiled to dist/sync/compare-worker.js, absent when the engine runs from its sources. */
const HELPER_URL = new URL('./compare-worker.js', import.meta.url);

/** A compare helper: the thread (helper-thread.ts) and the shared state its batches use. */
class Helper extends HelperThread {
  /** A batch is in progress (one at a time: a second pass in the same process compares on its own thread). */
  busy = false;
  readonly shared: Shared;

  constructor(url: URL, shared = makeShared()) {
    super(url, shared.buffer);
    this.shared = shared;
  }
}

let defaultHelper: Helper | undefined;
const helpers = new Map<string, Helper>();
/** For batches compared on this thread alone (synchronously: never two at once). */
const local = makeShared();

export interface CompareOptions {
  reader?: FileReader;
  /**
   * The helper thread's module, or false for this thread alone. Default: the compiled helper beside this file
   * on a machine with two or more cores; none when the engine runs from its TypeScript sources (unit tests).
   */
  helper?: URL | false;
}

function helperFor(option: URL | false | undefined): Helper | undefined {
  if (option === false) return undefined;
  if (option === undefined) {
    if (defaultHelper?.alive) return defaultHelper; // the core count is asked only before starting one
    if (!import.meta.url.endsWith('.js') || availableParallelism() < 2) return undefined;
    return (defaultHelper = new Helper(HELPER_URL));
  }
  let h = helpers.get(option.href);
  if (!h?.alive) helpers.set(option.href, (h = new Helper(option)));
  return h;
}

/** Start the compare helper now (the CLI, first thing for a --checksum pass); where no helper would be used, nothing. */
export function startCompareHelper(): void {
  helperFor(undefined);
}

/** Batches handed to the helper thread so far (tests: one per batch, never one per file). */
export function helperMessages(option?: URL): number {
  return (option ? helpers.get(option.href) : defaultHelper)?.messages ?? 0;
}

/** Stop a helper thread (tests). */
export async function stopHelper(option?: URL): Promise<void> {
  const h = option ? helpers.get(option.href) : defaultHelper;
  if (option) helpers.delete(option.href);
  else defaultHelper = undefined;
  await h?.terminate();
}

/**
 * Compare each pair's contents (see the top of compare.ts). One verdict per pair, in order: the source failing
 * is that pair's Error, never the batch's.
 */
export async function compareFiles(pairs: readonly ComparePair[], options: CompareOptions = {}): Promise<Verdict[]> {
  const verdicts: Verdict[] = [];
  for (let i = 0; i < pairs.length; i += MAX_PAIRS) verdicts.push(...(await compareBatch(pairs.slice(i, i + MAX_PAIRS), options)));
  return verdicts;
}

async function compareBatch(pairs: readonly ComparePair[], options: CompareOptions): Promise<Verdict[]> {
  await loadHash();
  const reader = options.reader ?? fsReader;
  // The helper resolves no relative path: the pass moves this thread's working folder while it lists one.
  const absolute = pairs.map((p) => ({ src: absolutePath(p.src), dst: absolutePath(p.dst), size: p.size }));
  // A helper for batches of two or more items; an injected reader is this thread's only (a helper reads files).
  let helper = options.reader === undefined ? helperFor(options.helper) : undefined;
  if (helper?.busy) helper = undefined;
  const shared = helper?.shared ?? local;
  const batch = batchOf(++shared.seq, absolute);
  if (batch.pair.length < 2) helper = undefined;
  const errors = new Map<number, unknown>();
  publish(shared, batch);
  if (helper && !helper.post(encodeBatch(batch))) helper = undefined;
  if (helper) helper.busy = true;
  try {
    workOn(shared, batch, reader, (k, error) => errors.set(k, error));
    if (helper) {
      // Every item is taken; wait for the ones the helper is still comparing (it notifies after each).
      await helper.finished(shared, batch.pair.length);
    }
    return verdictsOf(shared, batch, errors, reader);
  } finally {
    if (helper) {
      helper.busy = false;
      helper.release();
    }
  }
}

function absolutePath(path: string): string {
  return isAbsolute(path) ? path : resolve(path);
}
