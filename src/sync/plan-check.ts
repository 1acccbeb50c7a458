/**
 * The look-ahead thread's plans (lookahead.ts) are made from listings taken by whole path, which a folder
 * exchanged with a link (and back) while it was listed can fill with another folder's entries: names, owners,
 * modes, sizes and times that are not this folder's. So before the pass applies a plan, every entry the plan
 * names is looked at again through the pass's own opened folders (bare names, no link followed) and must be
 * exactly as planned, and the name of every removal must be absent from the source folder; else the plan is
 * dropped and the pass lists the folder itself. What the pass then writes
 * (an owner, a setuid bit, a link's target) is what these folders hold, never what another folder held.
 */
import type { Entry } from './entry.js';
import type { FolderEntries } from './folder-entries.js';
import type { PlannedStep } from './plan.js';

/** Are all the entries these steps name still exactly so in these folders (access times aside)? */
export function planHolds(steps: readonly PlannedStep[], src: FolderEntries, dst: FolderEntries | undefined): boolean {
  try {
    for (const step of steps) {
      // A removal: the source must not have the name (a listing that left it out would remove its copy).
      if (step.op === 'remove' && !absent(src, step.dst.name)) return false;
      if ('src' in step && !sameEntry(step.src, src.entry(step.src.name))) return false;
      for (const d of [('dst' in step && step.dst) || undefined, ('replace' in step && step.replace) || undefined]) {
        if (d && (!dst || !sameEntry(d, dst.entry(d.name)))) return false;
      }
    }
    return true;
  } catch {
    return false; // gone, unreadable: not as planned
  }
}

function absent(folder: FolderEntries, name: string): boolean {
  try {
    folder.lstat(name);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** Every field the planner and the pass act on (not the access time, which reading moves). */
export function sameEntry(a: Entry, b: Entry): boolean {
  return (
    a.name === b.name &&
    a.type === b.type &&
    a.ino === b.ino &&
    a.mode === b.mode &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.links === b.links &&
    a.target === b.target &&
    a.special === b.special
  );
}
