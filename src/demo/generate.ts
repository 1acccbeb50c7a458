import { chmodSync, lstatSync, lutimesSync, mkdirSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RefusedError } from '../errors.js';
import { Prng } from './prng.js';

/** The file that marks a folder as a demo tree, so `demo` may rewrite it (and never anything else). */
export const DEMO_MARKER = '.folder-sync-demo';

/** Files larger than this are the "large" ones the demo always includes (the engine copies them in chunks). */
export const LARGE_FILE_BYTES = 64 * 1024;

export interface DemoOptions {
  /** Same seed, same tree: names, bytes, modes and modification times. */
  seed: number;
  /** How many files (at least the handful of fixed ones). */
  files: number;
  /** How many folders, besides the root. */
  folders: number;
  /** Upper bound of a large file's size, in bytes. */
  maxFileBytes: number;
  /** Include a symlink (not on Windows, where creating one needs extra rights). */
  symlinks: boolean;
}

export const DEMO_DEFAULTS: DemoOptions = {
  seed: 1,
  files: 300,
  folders: 40,
  maxFileBytes: 1024 * 1024,
  symlinks: process.platform !== 'win32',
};

export type DemoEntry =
  | { type: 'dir'; path: string; mode: number; mtimeMs: number }
  | { type: 'file'; path: string; mode: number; mtimeMs: number; size: number; text: boolean; contentSeed: number }
  | { type: 'symlink'; path: string; target: string; mtimeMs: number };

export interface DemoSummary {
  files: number;
  folders: number;
  emptyFiles: number;
  emptyFolders: number;
  largeFiles: number;
  symlinks: number;
  bytes: number;
}

// Names a real shared folder might hold: spaces, accents, non-Latin scripts, an apostrophe; nothing Windows forbids.
// prettier-ignore -- a packed word list reads better than one word a line
const FOLDER_NAMES = [
  'Documents', 'Photos', 'Projects', 'Invoices 2024', 'Q3 reports', 'Archive', 'Café menus', 'Unterlagen Übersicht',
  'résumés', '日本語のメモ', 'Προσφορές', 'drafts', 'old stuff', 'src', 'assets', "Marta's notes", 'Scans', 'contracts',
  'Ελληνικά', 'Zürich trip', 'backup of backup', 'raw', 'exports', 'données',
] as const;
// prettier-ignore -- a packed word list reads better than one word a line
const FILE_NAMES = [
  'report', 'notes', 'budget', 'IMG', 'scan', 'meeting notes', 'Überblick', 'naïve plan', 'café receipt', 'データ',
  'σημειώσεις', 'todo', 'draft v2', 'invoice', 'contract (signed)', 'ideas & plans', 'São Paulo itinerary', 'README',
] as const;
const TEXT_EXTENSIONS = ['.txt', '.md', '.csv', '.json'] as const;
const BINARY_EXTENSIONS = ['.jpg', '.pdf', '.bin', '.png', '.zip'] as const;
// prettier-ignore -- a packed word list reads better than one word a line
const WORDS = [
  'alpha', 'budget', 'copy', 'delta', 'échéance', 'folder', 'große', 'mirror', 'naïve', 'offsite', 'replica', 'source',
  'sync', 'team', 'quarter', 'über', 'værelse', '東京', 'λόγος', 'and', 'the', 'of', 'to', 'in',
] as const;

/** 2024-01-01T00:00:00Z: every mtime is this plus a seeded offset, in whole seconds (exact on every file system). */
const EPOCH_MS = Date.UTC(2024, 0, 1);
const YEAR_S = 365 * 24 * 3600;

/**
 * The demo tree as a list (parents before children), decided by the seed alone: pure, no I/O.
 * Always holds files over 64 KiB, empty files, empty folders, and names with spaces and non-ASCII letters.
 */
export function planDemoTree(options: DemoOptions): DemoEntry[] {
  const rng = new Prng(options.seed);
  const entries: DemoEntry[] = [];
  const taken = new Set<string>();
  const mtime = (): number => EPOCH_MS + rng.int(0, YEAR_S) * 1000;
  // Unique per folder even on case-insensitive, normalising file systems (macOS, Windows).
  const claim = (dir: string, name: string): string => {
    let candidate = name;
    for (let n = 2; taken.has(`${dir}/${candidate.normalize('NFC').toLowerCase()}`); n++) {
      const dot = name.lastIndexOf('.');
      candidate = dot > 0 ? `${name.slice(0, dot)} (${n})${name.slice(dot)}` : `${name} (${n})`;
    }
    taken.add(`${dir}/${candidate.normalize('NFC').toLowerCase()}`);
    return dir ? `${dir}/${candidate}` : candidate;
  };
  const addDir = (parent: string, name: string): string => {
    const path = claim(parent, name);
    entries.push({ type: 'dir', path, mode: 0o755, mtimeMs: mtime() });
    return path;
  };
  const addFile = (dir: string, name: string, size: number, text: boolean): void => {
    const path = claim(dir, name);
    const mode = rng.chance(0.1) ? 0o600 : 0o644;
    entries.push({ type: 'file', path, mode, mtimeMs: mtime(), size, text, contentSeed: rng.nextUint32() });
  };

  // Fixed landmarks, so every seed shows each case the engine must handle.
  const photos = addDir('', 'Photos 2024 – été');
  addDir('', 'empty folder');
  const archive = addDir('', 'Archive');
  addDir(archive, '2019 (nothing left)');
  addFile('', 'read me first.txt', rng.int(200, 2000), true);
  addFile(photos, 'large scan 01.tif', rng.int(LARGE_FILE_BYTES + 1, Math.max(LARGE_FILE_BYTES + 1, options.maxFileBytes)), false);
  addFile(photos, 'Ωmega panorama.jpg', rng.int(LARGE_FILE_BYTES + 1, Math.max(LARGE_FILE_BYTES + 1, options.maxFileBytes)), false);
  addFile(archive, 'empty placeholder.txt', 0, true);

  // Random folders: nested up to five levels below the root.
  const dirs: { path: string; depth: number }[] = [{ path: '', depth: 0 }, { path: photos, depth: 1 }];
  for (let i = 0; i < options.folders - 4; i++) {
    const parent = rng.pick(dirs.filter((d) => d.depth < 5));
    const path = addDir(parent.path, rng.pick(FOLDER_NAMES));
    dirs.push({ path, depth: parent.depth + 1 });
  }

  // Random files: mostly small, some medium, about one in eight over 64 KiB, some empty.
  for (let i = entries.filter((e) => e.type === 'file').length; i < options.files; i++) {
    const dir = rng.pick(dirs).path;
    const text = rng.chance(0.5);
    const ext = text ? rng.pick(TEXT_EXTENSIONS) : rng.pick(BINARY_EXTENSIONS);
    const base = rng.pick(FILE_NAMES);
    const name = rng.chance(0.6) ? `${base} ${rng.int(1, 999)}${ext}` : `${base}${ext}`;
    const r = rng.next();
    const size =
      r < 0.07
        ? 0
        : r < 0.55
          ? rng.int(1, 4096)
          : r < 0.88
            ? rng.int(4097, LARGE_FILE_BYTES)
            : rng.int(LARGE_FILE_BYTES + 1, Math.max(LARGE_FILE_BYTES + 1, options.maxFileBytes));
    addFile(dir, name, size, text);
  }

  if (options.symlinks) {
    entries.push({ type: 'symlink', path: claim('', 'latest photo (link).tif'), target: `${photos}/large scan 01.tif`, mtimeMs: mtime() });
  }
  return entries;
}

/** The bytes of one demo file: words and line breaks for text files, noise for the others; exactly `size` long. */
export function demoFileContent(entry: Extract<DemoEntry, { type: 'file' }>): Buffer {
  const rng = new Prng(entry.contentSeed);
  if (!entry.text) return rng.fill(Buffer.allocUnsafe(entry.size));
  const parts: string[] = [];
  let length = 0;
  while (length < entry.size) {
    const line = Array.from({ length: rng.int(3, 12) }, () => rng.pick(WORDS)).join(' ') + '\n';
    parts.push(line);
    length += Buffer.byteLength(line);
  }
  // Cutting may split a multi-byte letter at the very end; harmless for demo data, and the size stays exact.
  return Buffer.from(parts.join('')).subarray(0, entry.size);
}

/** The tree's counts, for the command's closing line and for tests. */
export function summarizeDemoTree(entries: readonly DemoEntry[]): DemoSummary {
  const summary: DemoSummary = { files: 0, folders: 0, emptyFiles: 0, emptyFolders: 0, largeFiles: 0, symlinks: 0, bytes: 0 };
  const parents = new Set(entries.map((e) => e.path.slice(0, Math.max(0, e.path.lastIndexOf('/')))));
  for (const e of entries) {
    if (e.type === 'dir') {
      summary.folders++;
      if (!parents.has(e.path)) summary.emptyFolders++;
    } else if (e.type === 'file') {
      summary.files++;
      summary.bytes += e.size;
      if (e.size === 0) summary.emptyFiles++;
      if (e.size > LARGE_FILE_BYTES) summary.largeFiles++;
    } else {
      summary.symlinks++;
    }
  }
  return summary;
}

/**
 * Empty `root` so the demo can be written into it: create it when missing, clear it when it holds an earlier
 * demo tree, and refuse (exit 2, nothing touched) anything else, so a mistyped path never loses real files.
 */
function prepareRoot(root: string): void {
  let names: string[];
  try {
    const st = lstatSync(root);
    if (!st.isDirectory()) throw new RefusedError(`demo folder exists but is not a folder: ${root}`);
    names = readdirSync(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(root, { recursive: true });
    return;
  }
  if (names.length === 0) return;
  if (!names.includes(DEMO_MARKER)) {
    throw new RefusedError(
      `demo folder ${root} is not empty and was not written by "folder-sync demo"; refusing to overwrite it (pick a new or empty folder)`,
    );
  }
  for (const name of names) rmSync(join(root, name), { recursive: true, force: true });
}

/** Write the planned tree under `root` (see prepareRoot for what happens to what is already there). */
export function writeDemoTree(root: string, entries: readonly DemoEntry[], seed: number): DemoSummary {
  prepareRoot(root);
  const at = (ms: number): Date => new Date(ms);
  writeFileSync(
    join(root, DEMO_MARKER),
    `Demo data written by "folder-sync demo --seed ${seed}". Safe to delete; the command rewrites this folder.\n`,
  );
  chmodSync(join(root, DEMO_MARKER), 0o644);
  utimesSync(join(root, DEMO_MARKER), at(EPOCH_MS), at(EPOCH_MS));
  for (const e of entries) {
    const path = join(root, e.path);
    if (e.type === 'dir') {
      mkdirSync(path);
    } else if (e.type === 'file') {
      writeFileSync(path, demoFileContent(e));
      chmodSync(path, e.mode); // explicit: the umask must not make two runs differ
      utimesSync(path, at(e.mtimeMs), at(e.mtimeMs));
    } else {
      symlinkSync(e.target.split('/').join(process.platform === 'win32' ? '\\' : '/'), path);
      lutimesSync(path, at(e.mtimeMs), at(e.mtimeMs));
    }
  }
  // Folder times last, deepest first: writing into a folder moves its mtime.
  const dirs = entries.filter((e): e is Extract<DemoEntry, { type: 'dir' }> => e.type === 'dir');
  for (const d of dirs.reverse()) {
    chmodSync(join(root, d.path), d.mode);
    utimesSync(join(root, d.path), at(d.mtimeMs), at(d.mtimeMs));
  }
  chmodSync(root, 0o755);
  utimesSync(root, at(EPOCH_MS), at(EPOCH_MS));
  return summarizeDemoTree(entries);
}
