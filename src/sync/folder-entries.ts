/**
 * What an opened folder (`OpenFolder`, access.ts) does with the entries inside it. Each call names its entry
 * through `at(name)`, which access.ts implements for its mode (a bare name in the pinned working folder,
 * `/proc/self/fd/<fd>/<name>`, or a checked path): nothing here resolves a path of its own, and no call follows
 * a link in the entry's place.
 */
import { constants, lchownSync, lstatSync, lutimesSync, openSync, readlinkSync, rmdirSync, symlinkSync, unlinkSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { lstatEntry, type Entry } from './entry.js';
import { holdBlocks } from './free-later.js';
import { BIG, O_NOFOLLOW, O_NONBLOCK, openFileChecked } from './handles.js';
import { tempName } from './temp.js';
import { timeArg } from './times.js';

export abstract class FolderEntries {
  constructor(
    /** The path the folder was reached by: for messages, and for 'path' mode's checked chdir. */
    readonly path: string,
  ) {}

  /** How to name `name` inside this folder for one call (see OpenFolder). */
  protected abstract at(name: string): string;

  lstat(name: string): BigIntStats {
    return lstatSync(this.at(name), BIG);
  }

  /** lstat as an Entry (a symlink's target included). */
  entry(name: string): Entry {
    const path = this.at(name);
    const entry = lstatEntry(path, name);
    if (entry.type === 'symlink') entry.target = readlinkSync(path);
    return entry;
  }

  /**
   * Open a regular file for reading: no link followed, no FIFO waited on. `expected` (the listing's inode):
   * a file that is not that one any more, or not a regular file, throws EntryChangedError.
   */
  openFile(name: string, expected?: Pick<Entry, 'ino'>): { fd: number; stat: BigIntStats } {
    return openFileChecked(() => this.at(name), join(this.path, name), expected);
  }

  /** Open `name` for reading without following a link or waiting on a FIFO; no check of what it is (the caller's). */
  openRead(name: string): number {
    return openSync(this.at(name), constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  }

  /** Create a new temporary file (O_EXCL, mode 0600): its name and a write descriptor. */
  createTemp(): { name: string; fd: number } {
    const name = tempName();
    return { name, fd: this.createNew(name) };
  }

  /** Create the new file `name` (O_EXCL, mode 0600, no link followed): a temporary, or a file in a folder being built (walk-build.ts). */
  createNew(name: string): number {
    return openSync(this.at(name), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, 0o600);
  }

  /** A new temporary symlink; returns its name. */
  createTempLink(target: string): string {
    const name = tempName();
    symlinkSync(target, this.at(name));
    return name;
  }

  unlink(name: string): void {
    unlinkSync(this.at(name));
  }

  /** Hold `entry`'s blocks while its name is replaced or removed, freed beside the pass (free-later.ts). */
  holdBlocks(name: string, entry: Entry | undefined): number | undefined {
    return holdBlocks(this.at(name), entry);
  }

  rmdir(name: string): void {
    rmdirSync(this.at(name));
  }

  symlink(target: string, name: string): void {
    symlinkSync(target, this.at(name));
  }

  /** A link's own owner and times (never its target's). */
  lchown(name: string, uid: number, gid: number): void {
    lchownSync(this.at(name), uid, gid);
  }

  lutimes(name: string, atimeMs: number, mtimeMs: number): void {
    lutimesSync(this.at(name), timeArg(atimeMs), timeArg(mtimeMs));
  }
}
