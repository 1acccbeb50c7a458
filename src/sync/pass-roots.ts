/**
 * A pass's two roots: a missing replica created, then both opened once and checked against the folders the
 * guards checked (path-guards.ts); everything the walk reaches is reached from these handles.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeError, RefusedError } from '../errors.js';
import { OpenFolder } from './access.js';
import { identityKey } from './handles.js';

export interface Roots {
  source?: OpenFolder;
  replica?: OpenFolder;
}

/** Open a root the guards checked; a different folder at that path now (swapped since) refuses the pass. */
export function openChecked(path: string, id: string | undefined, side: string): OpenFolder {
  let folder: OpenFolder;
  try {
    folder = OpenFolder.openRoot(path);
  } catch (error) {
    throw new RefusedError(`${side} folder cannot be opened: ${path}: ${describeError(error)}`);
  }
  if (id !== undefined && identityKey(folder) !== id) {
    folder.close();
    throw new RefusedError(`${side} folder ${path} was replaced after the guards checked it; nothing was changed`);
  }
  return folder;
}

/** Create a missing replica: parents get the usual mode, the replica starts owner-only (the source's mode comes last). */
export function createReplicaRoot(path: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    mkdirSync(path, 0o700);
  } catch (error) {
    throw new RefusedError(`replica folder cannot be created: ${path}: ${describeError(error)}`);
  }
}
