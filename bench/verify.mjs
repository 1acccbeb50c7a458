// An independent tree comparison for the benchmark (shares no code with the engine): entry names, types,
// permission bits, sizes, mtimes to the millisecond, link targets, folder mtimes, and optionally every byte.
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { join } from 'node:path';

const CHUNK = 1 << 20;
const bufA = Buffer.alloc(CHUNK);
const bufB = Buffer.alloc(CHUNK);

function sameBytes(a, b, size) {
  const fa = openSync(a, 'r');
  const fb = openSync(b, 'r');
  try {
    for (let off = 0; off < size;) {
      const n = readSync(fa, bufA, 0, CHUNK, off);
      const m = readSync(fb, bufB, 0, CHUNK, off);
      if (n !== m || n === 0 || bufA.compare(bufB, 0, m, 0, n) !== 0) return false;
      off += n;
    }
    // Nothing left after `size` bytes on either side.
    return readSync(fa, bufA, 0, 1, size) === 0 && readSync(fb, bufB, 0, 1, size) === 0;
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

function kind(st) {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return 'special';
}

/** Differences between two trees (at most `limit` of them); an empty list means the replica equals the source. */
export function compareTrees(src, dst, { bytes = true, limit = 10 } = {}) {
  const diffs = [];
  const note = (msg) => {
    if (diffs.length < limit) diffs.push(msg);
  };
  const walk = (rel) => {
    const a = join(src, rel);
    const b = join(dst, rel);
    const sa = lstatSync(a);
    const sb = lstatSync(b, { throwIfNoEntry: false });
    if (!sb) return note(`missing in replica: ${rel || '.'}`);
    if (kind(sa) !== kind(sb)) return note(`type differs: ${rel}`);
    if ((sa.mode & 0o7777) !== (sb.mode & 0o7777)) note(`mode differs: ${rel}`);
    if (kind(sa) === 'symlink') {
      if (readlinkSync(a) !== readlinkSync(b)) note(`link target differs: ${rel}`);
      return;
    }
    if (Math.floor(sa.mtimeMs) !== Math.floor(sb.mtimeMs)) note(`mtime differs: ${rel || '.'}`);
    if (kind(sa) === 'file') {
      if (sa.size !== sb.size) note(`size differs: ${rel}`);
      else if (bytes && !sameBytes(a, b, sa.size)) note(`content differs: ${rel}`);
      return;
    }
    if (kind(sa) !== 'dir') return;
    const na = readdirSync(a).sort();
    const nb = new Set(readdirSync(b));
    for (const n of na) {
      nb.delete(n);
      walk(join(rel, n));
    }
    for (const n of nb) note(`extra in replica: ${join(rel, n)}`);
  };
  walk('');
  return diffs;
}
