/**
 * The replica lister's thread (see prefetch.ts): walks the replica folder by folder in the order the pass
 * visits folders (depth first, names sorted) and posts each listing, staying at most a bounded number of
 * folders ahead of the pass. It only reads: lstat and readdir, never a write.
 */
import { join, sep } from 'node:path';
import { workerData, type MessagePort } from 'node:worker_threads';
import { folderId } from './apply.js';
import { listDir } from './entry.js';
import { encodeListing, MAX_AHEAD, SLOT, visitOrder, type PrefetchMessage } from './prefetch-shared.js';

/** `from`: the folder the pass will ask for next; the ones before it it has listed itself. */
const { root, from, port, shared } = workerData as { root: string; from: string; port: MessagePort; shared: SharedArrayBuffer };
const state = new Int32Array(shared);

function post(message: PrefetchMessage): boolean {
  // Back-pressure: memory stays a bounded number of folders ahead of the pass, never the whole tree.
  for (;;) {
    if (Atomics.load(state, SLOT.stop) !== 0) return false;
    const consumed = Atomics.load(state, SLOT.consumed);
    if (Atomics.load(state, SLOT.produced) - consumed < MAX_AHEAD) break;
    Atomics.wait(state, SLOT.consumed, consumed, 100);
  }
  port.postMessage(message);
  Atomics.add(state, SLOT.produced, 1);
  Atomics.notify(state, SLOT.produced);
  return true;
}

/** True for `from` itself and the folders above it. */
const leadsToFrom = (rel: string): boolean => rel === '' || from === rel || from.startsWith(rel + sep);

function walk(rel: string): boolean {
  let before = visitOrder(rel, from) < 0;
  if (before && !leadsToFrom(rel)) return true; // the pass is past this subtree
  let entries;
  let id: string;
  try {
    // The folder's identity as listed: the pass uses the listing only if the folder is still that one.
    id = folderId(join(root, rel));
    const listing = listDir(join(root, rel));
    entries = listing.entries;
    // Entries it could not look at: the pass lists the folder itself and reports them as it always did.
    if (listing.issues.length > 0) {
      if (!before && !post({ rel, failed: true })) return false;
      before = true; // posted (as failed) already
    }
  } catch {
    return before || post({ rel, failed: true }); // the pass lists it itself and handles the error as it always did
  }
  // Folders above `from` are listed only to find the way down; the pass has their listings.
  if (!before && !post({ rel, id, ...encodeListing(entries) })) return false;
  for (const e of entries) if (e.type === 'dir' && !walk(rel === '' ? e.name : join(rel, e.name))) return false;
  return true;
}

walk('');
post({ rel: '', done: true });
