/**
 * Retention: at the end of a pass, the pass folders the policy no longer keeps are removed, each logged as
 * `pruned versions <pass> (<n> entries, <size>)`. Only folders folder-sync made (pass-name pattern AND its
 * marker) are ever touched; without a limit nothing is.
 */
import { lstatSync, rmdirSync, unlinkSync } from 'node:fs';
import { OpenFolder } from '../sync/access.js';
import { describeError } from '../errors.js';
import { formatBytes } from '../progress.js';
import { measurePass, readCatalog, type Measure, type PassFolder } from './catalog.js';
import { passesToPrune, type Retention } from './names.js';
import { exists } from '../sync/entry.js';
import { markerPath } from './store.js';

export interface Pruned extends Measure {
  pass: string;
  /** Set when it could not be removed (entirely); what is left stays and is tried again next pass. */
  error?: string;
}

export function prunedLine(p: Pruned, dryRun = false): string {
  return `pruned versions ${p.pass} (${p.entries} entries, ${formatBytes(p.bytes)})${dryRun ? ' (dry run)' : ''}`;
}

/**
 * Remove the pass folders `policy` does not keep (as of `nowMs`, the pass's start). In a dry run, only says
 * which. The current pass's own folder is the newest, so every policy keeps it.
 */
export function pruneVersions(dir: string, policy: Retention, nowMs: number, dryRun = false): Pruned[] {
  if (!exists(dir)) return []; // no pass has kept anything yet
  const doomed = passesToPrune(readCatalog(dir).passes, policy, nowMs);
  return doomed.map((pass) => {
    const m = measurePass(pass);
    const result: Pruned = { pass: pass.name, ...m };
    if (dryRun) return result;
    try {
      removePass(dir, pass);
    } catch (error) {
      result.error = describeError(error);
    }
    return result;
  });
}

/** The folder first, its marker last: a kill in between leaves a marked remainder that the next pass prunes. */
function removePass(dir: string, pass: PassFolder): void {
  removeTree(pass.path);
  unlinkSync(markerPath(dir, pass.name));
}

/**
 * Remove `path` and everything below it. Every folder is opened without following a link and checked against
 * its listing, and emptied through that handle (access.ts): a folder swapped for a link meanwhile (someone who
 * can write inside a kept folder, or beside a restore target) never leads the removal anywhere else.
 */
export function removeTree(path: string): void {
  const st = lstatSync(path, { bigint: true });
  if (!st.isDirectory()) {
    unlinkSync(path);
    return;
  }
  const folder = OpenFolder.openNoFollow(path, st);
  try {
    emptyFolder(folder, Number(st.mode & 0o7777n));
  } finally {
    folder.close();
  }
  rmdirSync(path); // never follows a link; an empty folder only
}

/** Remove everything inside an opened folder (made searchable and writable by its owner first). */
export function emptyFolder(folder: OpenFolder, mode: number): void {
  if ((mode & 0o700) !== 0o700) folder.setMode(mode | 0o700);
  const listing = folder.list();
  const issue = listing.issues[0];
  if (issue) throw issue.error;
  for (const e of listing.entries) {
    if (e.type === 'dir') {
      const child = folder.openChild(e.name, e);
      try {
        emptyFolder(child, e.mode);
      } finally {
        child.close();
      }
      folder.rmdir(e.name);
    } else {
      folder.unlink(e.name);
    }
  }
}
