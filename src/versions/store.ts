/**
 * The write side of a versions folder: what a pass keeps instead of deleting or overwriting it.
 *
 * Layout (docs/versions.md):
 *   <dir>/<pass>/<path in the replica>         what the pass took out of the replica, moved there whole
 *   <dir>/.folder-sync-versions/store.json     which replica this versions folder belongs to
 *   <dir>/.folder-sync-versions/<pass>.jsonl   the pass folder's marker: a header line, then one line per kept entry
 *
 * Every change here is a handful of calls (mkdir, open, rename, link, one write per kept entry), so the engine's
 * access layer can take them over (renameat between two opened folders) without changing the rules.
 */
import {
  closeSync,
  constants,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Kind } from '../log.js';
import { exists } from '../sync/entry.js';
import { META_DIR, passFolderName } from './names.js';

export const STORE_FILE = 'store.json';

/** `<META_DIR>/store.json`: the replica (and source) this versions folder keeps entries of. */
export interface StoreRecord {
  folderSync: 'versions';
  version: 1;
  replica: string;
  source: string;
  createdAt: string;
}

/** First line of a pass folder's marker. */
export interface PassHeader {
  folderSync: 'versions-pass';
  pass: string;
  startedAt: string;
  source: string;
  replica: string;
}

/** Why an entry was kept: the source lost it, a newer one replaced it, or one of another type took its place. */
export type KeptAction = 'removed' | 'updated' | 'replaced';

/** One line per kept entry, written before the entry is moved (a kill in between leaves a line for nothing, never the reverse). */
export interface KeptLine {
  path: string;
  kind: Kind;
  action: KeptAction;
}

export function markerPath(dir: string, pass: string): string {
  return join(dir, META_DIR, `${pass}.jsonl`);
}

export function readStoreRecord(dir: string): StoreRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(join(dir, META_DIR, STORE_FILE), 'utf8')) as StoreRecord;
    return record.folderSync === 'versions' ? record : undefined;
  } catch {
    return undefined;
  }
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** link() is not offered everywhere (FAT, exFAT, some network shares): then the old entry is moved instead. */
const NO_LINK = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'ENOSYS', 'EXDEV', 'EACCES']);

export interface StoreOptions {
  source: string;
  replica: string;
  /** When the pass started (ms): the pass folder is named after it. */
  startedAt: number;
  dryRun?: boolean;
}

/**
 * One pass's view of a versions folder. The pass folder is claimed at the first entry kept, so a pass that
 * changes nothing leaves nothing behind; a dry run only computes the name it would use.
 */
export class VersionStore {
  private pass: string | undefined;
  private marker: number | undefined;
  /** Folders already made inside the pass folder (relative paths), so a pass that keeps many files inside one folder makes it once. */
  private readonly made = new Set<string>(['']);
  /** Entries kept so far. */
  kept = 0;

  constructor(
    readonly dir: string,
    private readonly opts: StoreOptions,
  ) {}

  /** The pass folder's name: the one claimed, or (before the first keep, and in a dry run) the one it would get. */
  get passName(): string {
    return this.pass ?? this.freeName();
  }

  get dryRun(): boolean {
    return this.opts.dryRun ?? false;
  }

  /** Where an entry kept (or, in a dry run, that would be kept) at `rel` is. */
  keptPath(rel: string): string {
    return join(this.dir, this.passName, rel);
  }

  /** The pass folder's name if this pass kept anything. */
  get claimed(): string | undefined {
    return this.pass;
  }

  /** The first free name for this pass's start second (a second pass in the same second gets `-2`, and so on). */
  private freeName(): string {
    for (let seq = 1; ; seq++) {
      const name = passFolderName(this.opts.startedAt, seq);
      if (!exists(markerPath(this.dir, name)) && !exists(join(this.dir, name))) return name;
    }
  }

  /**
   * Move `<dirPath>/<name>` (a replica entry at `rel`) into this pass's folder. With `preserve` and a regular
   * file, it is hard-linked there instead and stays in place, so the caller's rename of the new version over
   * it keeps the replica's name filled at every moment; where links are not possible it is moved.
   * Returns the pass folder's name (for the log line). In a dry run nothing is touched.
   */
  keep(dirPath: string, name: string, line: KeptLine, preserve = false): string {
    if (this.opts.dryRun) return this.passName;
    const pass = this.claim();
    const into = join(this.dir, pass, line.path);
    this.makeParents(line.path);
    // The line comes first: a kill between the two leaves a line naming nothing, never an entry unaccounted for.
    writeSync(this.marker as number, `${JSON.stringify(line)}\n`);
    const from = join(dirPath, name);
    if (exists(into)) throw Object.assign(new Error(`already kept in versions ${pass}`), { code: 'EEXIST' });
    if (preserve && line.kind === 'file') {
      try {
        linkSync(from, into);
        this.kept++;
        return pass;
      } catch (error) {
        if (!NO_LINK.has(errnoOf(error) ?? '')) throw error;
      }
    }
    renameSync(from, into);
    this.kept++;
    return pass;
  }

  /** Close the marker; a pass that kept nothing has no pass folder. */
  close(): void {
    if (this.marker !== undefined) {
      closeSync(this.marker);
      this.marker = undefined;
    }
  }

  private claim(): string {
    if (this.pass !== undefined) return this.pass;
    const meta = join(this.dir, META_DIR);
    mkdirSync(meta, { recursive: true, mode: 0o700 });
    if (!readStoreRecord(this.dir)) {
      const record: StoreRecord = {
        folderSync: 'versions',
        version: 1,
        replica: this.opts.replica,
        source: this.opts.source,
        createdAt: new Date().toISOString(),
      };
      const tmp = join(meta, `${STORE_FILE}.${process.pid}.tmp`);
      writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
      renameSync(tmp, join(meta, STORE_FILE));
    }
    for (let seq = 1; ; seq++) {
      const name = passFolderName(this.opts.startedAt, seq);
      let fd: number;
      try {
        // The marker is the claim (O_EXCL), written before the folder: a folder of that name without it is not ours.
        fd = openSync(markerPath(this.dir, name), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND, 0o600);
      } catch (error) {
        if (errnoOf(error) === 'EEXIST') continue;
        throw error;
      }
      try {
        mkdirSync(join(this.dir, name), 0o700);
      } catch (error) {
        closeSync(fd);
        unlinkSync(markerPath(this.dir, name));
        if (errnoOf(error) === 'EEXIST') continue; // someone's own folder of that name: never ours to fill
        throw error;
      }
      const header: PassHeader = {
        folderSync: 'versions-pass',
        pass: name,
        startedAt: new Date(this.opts.startedAt).toISOString(),
        source: this.opts.source,
        replica: this.opts.replica,
      };
      writeSync(fd, `${JSON.stringify(header)}\n`);
      this.marker = fd;
      this.pass = name;
      return name;
    }
  }

  /** Make the folders between the pass folder and a kept entry (owner-only: they hold copies of the replica's files). */
  private makeParents(rel: string): void {
    const parent = dirname(rel) === '.' ? '' : dirname(rel);
    if (this.made.has(parent)) return;
    this.makeParents(parent);
    try {
      mkdirSync(join(this.dir, this.pass as string, parent), 0o700);
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
    }
    this.made.add(parent);
  }
}

/** Remove an empty pass folder and its marker (a pass that claimed one and then kept nothing, e.g. all keeps failed). */
export function dropEmptyPass(dir: string, pass: string): void {
  try {
    rmdirSync(join(dir, pass));
    unlinkSync(markerPath(dir, pass));
  } catch {
    // not empty, or already gone: it stays, listed like any other
  }
}
