/**
 * The read side of a versions folder: which pass folders folder-sync made there, what each one holds, and the
 * kept versions of one path. Only reads; never follows a link inside a pass folder.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { describeError, RefusedError } from '../errors.js';
import { comparePasses, META_DIR, parsePassFolderName, type PassName } from './names.js';
import { markerPath, readStoreRecord, type KeptLine, type PassHeader, type StoreRecord } from './store.js';

export interface PassFolder extends PassName {
  /** Absolute path of the pass folder. */
  path: string;
  header?: PassHeader;
  /** The entries the pass kept (top-level ones: a kept folder's contents are not listed one by one). */
  kept: KeptLine[];
}

export interface Catalog {
  dir: string;
  store?: StoreRecord;
  /** Pass folders folder-sync made (name and marker), oldest first. */
  passes: PassFolder[];
}

/**
 * Read a versions folder: the pass folders whose name has the pass pattern AND whose marker folder-sync wrote.
 * A folder of the same name without a marker is someone else's: not listed, never pruned.
 */
export function readCatalog(dir: string): Catalog {
  let names: string[];
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory()) throw new RefusedError(`versions folder is not a folder: ${dir}`);
    names = readdirSync(dir);
  } catch (error) {
    if (error instanceof RefusedError) throw error;
    throw new RefusedError(`versions folder cannot be read: ${dir}: ${describeError(error)}`);
  }
  const store = readStoreRecord(dir);
  if (!store && !names.includes(META_DIR)) {
    throw new RefusedError(`${dir} is not a folder-sync versions folder (it has no ${META_DIR} folder)`);
  }
  const passes: PassFolder[] = [];
  for (const name of names) {
    const parsed = parsePassFolderName(name);
    if (!parsed) continue;
    const path = join(dir, name);
    let marker: string;
    try {
      if (!lstatSync(path).isDirectory()) continue;
      marker = readFileSync(markerPath(dir, name), 'utf8');
    } catch {
      continue;
    }
    const lines = marker.split('\n').filter((l) => l !== '');
    const parsedLines = lines.flatMap((l): unknown[] => {
      try {
        return [JSON.parse(l)];
      } catch {
        return []; // a line torn by a kill mid-write
      }
    });
    const header = parsedLines[0] as PassHeader | undefined;
    if (header?.folderSync !== 'versions-pass' || header.pass !== name) continue;
    const kept = parsedLines.slice(1).filter((l): l is KeptLine => typeof (l as KeptLine).path === 'string');
    passes.push({ ...parsed, path, header, kept });
  }
  passes.sort(comparePasses);
  return { dir, store, passes };
}

export interface Measure {
  entries: number;
  bytes: number;
}

/** Count the entries and bytes below (and including) `path`, without following links. */
export function measureTree(path: string): Measure {
  const total: Measure = { entries: 0, bytes: 0 };
  const walk = (p: string): void => {
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    total.entries++;
    if (st.isFile()) total.bytes += st.size;
    if (!st.isDirectory()) return;
    let names: string[];
    try {
      names = readdirSync(p);
    } catch {
      return; // a kept folder its owner cannot list: counted itself, contents unknown
    }
    for (const n of names) walk(join(p, n));
  };
  walk(path);
  return total;
}

/** What a pass folder holds: its kept entries (a kept folder with everything inside it) and their bytes. */
export function measurePass(pass: PassFolder): Measure {
  const total: Measure = { entries: 0, bytes: 0 };
  for (const root of keptRoots(pass)) {
    const m = measureTree(join(pass.path, root));
    total.entries += m.entries;
    total.bytes += m.bytes;
  }
  return total;
}

/** The kept paths, each once, leaving out the ones inside another kept path. */
function keptRoots(pass: PassFolder): string[] {
  const paths = [...new Set(pass.kept.map((k) => k.path))].sort();
  const roots: string[] = [];
  for (const p of paths) if (!roots.some((r) => p.startsWith(`${r}/`))) roots.push(p);
  return roots;
}

export interface Version {
  pass: PassFolder;
  /** Absolute path of the kept entry. */
  path: string;
  kind: 'file' | 'dir' | 'symlink' | 'special';
  /** Why it was kept; for an entry inside a kept folder, that folder's action and path. */
  action: string;
  size: number;
  mode: number;
  mtimeMs: number;
  /** Folders: entries and bytes inside (itself included). */
  measure?: Measure;
  /** Symlinks: where the link pointed. */
  target?: string;
}

/**
 * lstat `rel` below `root`, every step lstat-ed: a link kept in the pass folder is never followed to reach
 * something below it. Undefined when it is not there.
 */
export function lstatInside(root: string, rel: string): Stats | undefined {
  let at = root;
  const parts = rel === '' ? [] : rel.split('/');
  for (const [i, part] of parts.entries()) {
    at = join(at, part);
    let st: Stats;
    try {
      st = lstatSync(at);
    } catch {
      return undefined;
    }
    if (i === parts.length - 1) return st;
    if (!st.isDirectory()) return undefined;
  }
  return lstatSync(root);
}

/**
 * The kept versions of `rel` (a path relative to the replica), oldest first: in each pass folder where `rel`
 * itself was kept, or lies inside a folder that was kept whole. A folder made only to hold a deeper kept entry
 * is not a version of that folder.
 */
export function versionsOf(catalog: Catalog, rel: string): Version[] {
  const out: Version[] = [];
  for (const pass of catalog.passes) {
    if (rel === '') {
      // The replica's top: everything one pass kept, at its paths (what that pass took out of the replica).
      if (pass.kept.length === 0) continue;
      const st = lstatSync(pass.path);
      const measure = measurePass(pass);
      out.push({
        pass,
        path: pass.path,
        kind: 'dir',
        action: 'kept by this pass',
        size: st.size,
        mode: st.mode & 0o7777,
        mtimeMs: st.mtimeMs,
        measure,
      });
      continue;
    }
    const own = pass.kept.find((k) => k.path === rel);
    const holder = own ?? pass.kept.find((k) => rel.startsWith(`${k.path}/`));
    if (!holder) continue;
    const st = lstatInside(pass.path, rel);
    if (!st) continue;
    const path = join(pass.path, rel);
    const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'special';
    const version: Version = {
      pass,
      path,
      kind,
      action: own ? own.action : `${holder.action} with ${JSON.stringify(holder.path)}`,
      size: st.size,
      mode: st.mode & 0o7777,
      mtimeMs: st.mtimeMs,
    };
    if (kind === 'dir') version.measure = measureTree(path);
    if (kind === 'symlink') version.target = readlinkSync(path);
    out.push(version);
  }
  return out;
}

/** Paths kept below `rel` in any pass (for "nothing kept as a whole, but these inside it were"). */
export function keptBelow(catalog: Catalog, rel: string): string[] {
  const prefix = rel === '' ? '' : `${rel}/`;
  const found = new Set<string>();
  for (const pass of catalog.passes) for (const k of pass.kept) if (k.path.startsWith(prefix)) found.add(k.path);
  return [...found].sort();
}

/** What `list` shows of a job's versions folder: how many pass folders, entries and bytes it keeps. */
export interface StoreSize extends Measure {
  passes: number;
}

/** The size of a versions folder; a folder not made yet is empty, one that cannot be read gives its reason. */
export function storeSize(dir: string): StoreSize | { error: string } {
  try {
    lstatSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { passes: 0, entries: 0, bytes: 0 };
  }
  try {
    const { passes } = readCatalog(dir);
    const total: StoreSize = { passes: passes.length, entries: 0, bytes: 0 };
    for (const p of passes) {
      const m = measurePass(p);
      total.entries += m.entries;
      total.bytes += m.bytes;
    }
    return total;
  } catch (error) {
    return { error: describeError(error) };
  }
}
