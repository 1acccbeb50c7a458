/**
 * --checksum on the pass's own thread (walk.ts, while the look-ahead thread has the second core): a folder's
 * pairs compared through the two folders the walk opened, each file opened by its bare name. A chunk's source
 * files are opened with the working folder pinned to the source folder, then their replica copies with it pinned
 * to the replica folder: two moves of the working folder a chunk instead of a /proc/self/fd lookup per file
 * (about twice the cost of a bare name; docs/benchmark.md). Linux CLI only ('fd' mode, the caller checks).
 */
import { closeSync } from 'node:fs';
import type { OpenFolder } from './access.js';
import { fsReader, sameWhole, type ComparePair, type FileReader, type Verdict } from './compare.js';

/** Source files opened ahead of their compare, this many at a time (descriptors held only for one chunk). */
const OPEN_AHEAD = 64;

/**
 * One verdict per pair (names in the two folders), as compareFiles gives them: the same bytes, different (the
 * replica copy unreadable included), or the source's error. loadHash() first.
 */
export function compareInFolders(pairs: readonly ComparePair[], srcFolder: OpenFolder, dstFolder: OpenFolder): Verdict[] {
  const verdicts: Verdict[] = [];
  for (let from = 0; from < pairs.length; from += OPEN_AHEAD) {
    const chunk = pairs.slice(from, from + OPEN_AHEAD);
    pinIfCan(srcFolder);
    const opened = chunk.map((p): number | Error | undefined => {
      try {
        return srcFolder.openRead(p.src);
      } catch (error) {
        return error as Error;
      }
    });
    try {
      pinIfCan(dstFolder);
      chunk.forEach((pair, i) => {
        const reader: FileReader = {
          ...fsReader,
          open: (name, side) => {
            if (side === 'replica') return dstFolder.openRead(name);
            const ahead = opened[i];
            opened[i] = undefined; // handed over: sameRange closes it
            if (ahead instanceof Error) throw ahead;
            return ahead ?? srcFolder.openRead(name); // a second range (a file of exactly RANGE bytes) opens it again
          },
        };
        try {
          verdicts.push(sameWhole(pair, reader));
        } catch (error) {
          verdicts.push(error as Error);
        }
      });
    } finally {
      for (const fd of opened) if (typeof fd === 'number') closeSync(fd); // opened but never handed over
    }
  }
  return verdicts;
}

/**
 * Pin the working folder where the layer can. One that cannot be entered any more (its search permission taken
 * away since it was listed) is not an error of the folder: names then go through its handle (OpenFolder.at:
 * `/proc/self/fd/<fd>/<name>`, as safe, slower), and each file's own open says what it can or cannot do.
 */
function pinIfCan(folder: OpenFolder): void {
  try {
    folder.workIn();
  } catch {
    // not pinned: the folder's names go through its handle
  }
}
