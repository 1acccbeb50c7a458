import {
  closeSync,
  chmodSync,
  chownSync,
  constants,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statfsSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { timeArg } from './access.js';
import { exists } from './entry.js';
import { hasOwnTag, taggedName } from './temp.js';

/**
 * What a replica's file system keeps, as data the planner decides with (rclone's fs.Features + Precision()).
 * Measured once per pass and per device with a short-lived folder of this tool's own in the replica
 * (`probeCapabilities`), or assumed from the file-system type where nothing may be written (`assumedCapabilities`:
 * dry runs, a folder this user cannot write). Nothing is cached across passes: a remount can change any of it.
 */
export interface ReplicaCaps {
  /** The file system's name as the user knows it: "ext4", "exfat", "vfat", "ntfs", "sshfs", ... */
  fsType: string;
  /** True when the facts below were measured in this replica; false when assumed from `fsType`. */
  measured: boolean;
  /** Modification times are kept to this many milliseconds (1: the millisecond or finer). */
  mtimePrecisionMs: number;
  /** How a time between two steps is stored; 'unknown' compares with a window of one step either way. */
  mtimeRounding: 'truncate' | 'nearest' | 'up' | 'unknown';
  /**
   * Times read back this far from what was set, in whole quarter hours (0 almost everywhere). fusefat outside
   * UTC writes wall-clock time as UTC and reads it as local time: every time, old or new, reads shifted.
   */
  mtimeOffsetMs: number;
  /** FAT keeps wall-clock local time: after a daylight-saving change (or a remount in another zone) every time reads one hour off. */
  localTime: boolean;
  /** A rename keeps the file's times (fusefat sets the mtime to "now" on rename: the times are set again after it). */
  renameKeepsTimes: boolean;
  /** Permission bits stick (chmod is kept). */
  modes: boolean;
  /** Owners stick (chown is kept); measured only as root, else assumed. */
  owners: boolean;
  symlinks: boolean;
  /** Two names that differ only in letter case are one entry. */
  caseInsensitive: boolean;
  /** Two names that differ only in Unicode normalisation (NFC "é" vs NFD "e"+U+0301) are one entry. */
  normalizationInsensitive: boolean;
  /** Names are stored in this normalisation whatever was asked for (HFS+: NFD), so the other form cannot be held. */
  storesNormalized?: 'NFC' | 'NFD';
  /** Names with characters outside ASCII can be created. */
  nonAscii: boolean;
  /** The longest name, in `nameUnit`s. */
  maxName: number;
  nameUnit: 'bytes' | 'utf16';
  /** False when the replica folder is the root of a FAT or exFAT volume, which holds no times of its own. */
  rootTimes?: false;
  /** Characters a name may not contain (besides "/" and NUL, refused everywhere). C0 controls appear as "\x01". */
  refusedChars: string;
}

/** Characters Windows file systems refuse; tested one by one by the probe. */
const WINDOWS_REFUSED = '"*:<>?\\|';
/** One C0 control stands for all of them (a file system refuses all or none); DEL is tested on its own. */
const CONTROL = '\x01';
const DEL = '\x7f';

const POSIX: ReplicaCaps = {
  fsType: 'unknown',
  measured: false,
  mtimePrecisionMs: 1,
  mtimeRounding: 'truncate',
  mtimeOffsetMs: 0,
  localTime: false,
  renameKeepsTimes: true,
  modes: true,
  owners: true,
  symlinks: true,
  caseInsensitive: false,
  normalizationInsensitive: false,
  nonAscii: true,
  maxName: 255,
  nameUnit: 'bytes',
  refusedChars: '',
};

/** An ext4-like replica: what every test before this module assumed, and the default for unknown types. */
export function defaultCapabilities(fsType = 'unknown'): ReplicaCaps {
  return { ...POSIX, fsType };
}

const WINDOWS_LIKE: Partial<ReplicaCaps> = {
  modes: false,
  owners: false,
  symlinks: false,
  caseInsensitive: true,
  nameUnit: 'utf16',
  refusedChars: WINDOWS_REFUSED + CONTROL,
};

/**
 * What a file system of this type is assumed to keep when it cannot be measured. Values are the ones measured
 * on the drivers in docs/filesystems.md, rounded towards caution (unknown rounding: a one-step window).
 */
const TYPE_DEFAULTS: Record<string, Partial<ReplicaCaps>> = {
  vfat: { ...WINDOWS_LIKE, mtimePrecisionMs: 2000, mtimeRounding: 'unknown', localTime: true },
  exfat: { ...WINDOWS_LIKE, mtimePrecisionMs: 1000, mtimeRounding: 'unknown' },
  ntfs: { modes: false, owners: false, nameUnit: 'utf16' },
  sshfs: { mtimePrecisionMs: 1000, mtimeRounding: 'truncate' },
  cifs: { ...WINDOWS_LIKE, mtimeRounding: 'unknown', mtimePrecisionMs: 1000 },
  nfs: { mtimeRounding: 'unknown', mtimePrecisionMs: 1000 },
  apfs: { caseInsensitive: true, normalizationInsensitive: true },
  hfs: { caseInsensitive: true, normalizationInsensitive: true, storesNormalized: 'NFD', mtimePrecisionMs: 1000, nameUnit: 'utf16' },
};

/** The family a mount's type belongs to, for TYPE_DEFAULTS and for the name users know. */
export function fsFamily(type: string): string {
  const t = type
    .toLowerCase()
    .replace(/^fuse\./, '')
    .replace(/^fuseblk\./, '');
  if (t === 'vfat' || t === 'msdos' || t === 'fat' || t === 'fat32' || t === 'fat16' || t === 'fusefat' || t === 'umsdos') return 'vfat';
  if (t === 'exfat' || t === 'exfat-fuse') return 'exfat';
  if (t === 'ntfs' || t === 'ntfs3' || t === 'ntfs-3g' || t === 'lowntfs-3g') return 'ntfs';
  if (t === 'cifs' || t === 'smb3' || t === 'smbfs') return 'cifs';
  if (t === 'nfs' || t === 'nfs4') return 'nfs';
  if (t === 'hfs' || t === 'hfsplus') return 'hfs';
  return t;
}

export function assumedCapabilities(fsType: string): ReplicaCaps {
  return { ...POSIX, ...TYPE_DEFAULTS[fsFamily(fsType)], fsType, measured: false };
}

// ---------------------------------------------------------------------------------------------------------
// Which file system holds a folder (no writes)

export interface MountInfo {
  /** The type as the kernel reports it ("ext4", "fuseblk", "fuse.sshfs"), or what sniffing the device found. */
  type: string;
  mountPoint: string;
  source: string;
}

/** "\040" and friends in /proc/self/mountinfo fields. */
const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The mount holding `path` (longest mount point that contains it; the last one mounted wins). Linux only. */
export function parseMountInfo(text: string, path: string): MountInfo | undefined {
  let best: MountInfo | undefined;
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const mountPoint = unescapeMount(left[4] ?? '');
    const inside = mountPoint === '/' || path === mountPoint || path.startsWith(`${mountPoint}/`);
    if (!inside || (best && mountPoint.length < best.mountPoint.length)) continue;
    best = { type: right[0] ?? 'unknown', source: unescapeMount(right[1] ?? ''), mountPoint };
  }
  return best;
}

/** Name the file system in a FUSE block device or image by its boot sector (fuseblk says nothing more). */
export function sniffBootSector(sector: Buffer): string | undefined {
  const at = (offset: number, text: string): boolean => sector.subarray(offset, offset + text.length).toString('latin1') === text;
  if (at(3, 'EXFAT   ')) return 'exfat';
  if (at(3, 'NTFS    ')) return 'ntfs';
  if (at(82, 'FAT32   ') || at(54, 'FAT16   ') || at(54, 'FAT12   ') || at(54, 'FAT     ')) return 'vfat';
  return undefined;
}

function sniffSource(source: string): string | undefined {
  if (!source.startsWith('/')) return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(source, constants.O_RDONLY | constants.O_NONBLOCK);
    const sector = Buffer.alloc(512);
    readSync(fd, sector, 0, 512, 0);
    return sniffBootSector(sector);
  } catch {
    return undefined; // not readable by this user: the generic type stands
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** statfs f_type magic numbers, where /proc/self/mountinfo is not available. */
const STATFS_TYPES: Record<number, string> = {
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x4d44: 'vfat',
  0x2011bab0: 'exfat',
  0x5346544e: 'ntfs',
  0x7366746e: 'ntfs',
  0x6969: 'nfs',
  0xff534d42: 'cifs',
  0xfe534d42: 'cifs',
  0x482b: 'hfs',
  0x65735546: 'fuse',
};

/** The file-system type holding `dir` (an existing folder), and whether `dir` is that mount's root; no writes. */
export function fileSystemOf(dir: string): { type: string; mountRoot: boolean } {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    real = resolve(dir);
  }
  if (process.platform === 'linux') {
    try {
      const mount = parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'), real);
      if (mount) {
        const generic = mount.type === 'fuseblk' || mount.type === 'fuse';
        return { type: (generic ? sniffSource(mount.source) : undefined) ?? mount.type, mountRoot: mount.mountPoint === real };
      }
    } catch {
      // no /proc: fall through to statfs
    }
  }
  if (process.platform === 'win32') return { type: 'ntfs', mountRoot: false };
  if (process.platform === 'darwin') return { type: 'apfs', mountRoot: false };
  try {
    const type = STATFS_TYPES[Number(statfsSync(real).type)];
    if (type) return { type, mountRoot: false };
  } catch {
    // fall through
  }
  return { type: 'unknown', mountRoot: false };
}

export function fileSystemType(dir: string): string {
  return fileSystemOf(dir).type;
}

/** The nearest existing folder at or above `path` (a replica that does not exist yet lives on its parent's file system). */
export function existingAncestor(path: string): string {
  let at = resolve(path);
  for (;;) {
    try {
      if (lstatSync(at).isDirectory()) return at;
    } catch (error) {
      // Only a missing path is climbed past; a dead mount (ENOTCONN) must not send the probe to its parent.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return at;
    }
    const up = dirname(at);
    if (up === at) return at;
    at = up;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Measuring (writes one short-lived folder)

/**
 * Leftover probe folders (a pass killed mid-probe) carry this prefix and a tag only this user's passes can make
 * (temp.ts); the next pass removes them quietly. A user's folder of that shape without a valid tag is a user
 * entry (issue 11 point 6), mirrored and removed like any other.
 */
export const PROBE_PREFIX = '.folder-sync-probe-';

export function isProbeName(name: string): boolean {
  return hasOwnTag(PROBE_PREFIX, name);
}

/** Two sample times (ms since the epoch) whose stored values tell the precision and rounding apart. */
const SAMPLES = [1_700_000_001_236, 1_700_000_002_781] as const;
const STEPS = [1, 10, 100, 1000, 2000] as const;
const ROUNDINGS = ['truncate', 'nearest', 'up'] as const;

function quantize(ms: number, step: number, rounding: 'truncate' | 'nearest' | 'up'): number {
  const q = rounding === 'truncate' ? Math.floor(ms / step) : rounding === 'up' ? Math.ceil(ms / step) : Math.round(ms / step);
  return q * step;
}

const QUARTER_HOUR = 900_000;

/** Precision, rounding and offset from what the file system kept of SAMPLES (pure; exported for the table tests). */
export function precisionFrom(kept: readonly number[]): Pick<ReplicaCaps, 'mtimePrecisionMs' | 'mtimeRounding' | 'mtimeOffsetMs'> {
  // A shift by whole quarter hours is a time-zone conversion, not precision (steps are 2 s at most).
  const mtimeOffsetMs = Math.round(((kept[0] ?? SAMPLES[0]) - SAMPLES[0]) / QUARTER_HOUR) * QUARTER_HOUR || 0; // never -0
  for (const step of STEPS) {
    for (const rounding of ROUNDINGS) {
      if (SAMPLES.every((t, i) => quantize(t, step, rounding) + mtimeOffsetMs === kept[i])) {
        return { mtimePrecisionMs: step, mtimeRounding: rounding, mtimeOffsetMs };
      }
    }
  }
  // Nothing fits (an odd driver): compare with a window as wide as the largest error seen.
  const error = Math.max(...SAMPLES.map((t, i) => Math.abs((kept[i] ?? t) - mtimeOffsetMs - t)));
  return { mtimePrecisionMs: STEPS.find((s) => s > error) ?? Math.ceil(error / 1000) * 1000 + 1000, mtimeRounding: 'unknown', mtimeOffsetMs };
}

const mtimeMsOf = (path: string): number => Number(lstatSync(path, { bigint: true }).mtimeNs / 1_000_000n);

/** Create an empty file; false when the file system refuses the name (any error). */
function tryCreate(path: string): boolean {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600));
    return true;
  } catch {
    return false;
  }
}

function tryCreateAndRemove(path: string): boolean {
  if (!tryCreate(path)) return false;
  unlinkSync(path);
  return true;
}

/**
 * Measure what the file system holding `dir` keeps, with a folder `.folder-sync-probe-<hex>` created in `dir`
 * and removed again (with `dir`'s times put back, so the probe leaves no trace a later pass would see).
 * Throws when `dir` cannot be written (the caller falls back to `assumedCapabilities`).
 */
export function probeCapabilities(dir: string, fsType = fileSystemType(dir)): ReplicaCaps {
  const before = lstatSync(dir, { bigint: true });
  const probe = join(dir, taggedName(PROBE_PREFIX));
  mkdirSync(probe, 0o700);
  let offset = 0;
  try {
    const measured = measure(probe);
    offset = measured.mtimeOffsetMs;
    return { ...measured, fsType, measured: true };
  } finally {
    rmSync(probe, { recursive: true, force: true });
    // Only when the probe moved it: a FAT root has no times, and fusefat dies on utimes there (ECONNABORTED).
    if (lstatSync(dir, { bigint: true }).mtimeNs !== before.mtimeNs) {
      // What was read back, minus the driver's shift, is what must be set to read the same again.
      const ms = (ns: bigint): number => Number(ns / 1_000_000n) - offset;
      try {
        utimesSync(dir, timeArg(ms(before.atimeNs)), timeArg(ms(before.mtimeNs)));
      } catch {
        // not ours to set (another owner): the next pass then sees and fixes the folder's time like any other
      }
    }
  }
}

function measure(probe: string): Omit<ReplicaCaps, 'fsType' | 'measured'> {
  const file = join(probe, 'probe');
  if (!tryCreate(file)) throw new Error(`cannot create a file in ${probe}`);
  const kept = SAMPLES.map((t) => {
    utimesSync(file, timeArg(t), timeArg(t));
    return mtimeMsOf(file);
  });
  const precision = precisionFrom(kept);

  const moved = join(probe, 'moved');
  if (!tryCreate(moved)) throw new Error(`cannot create a file in ${probe}`);
  utimesSync(moved, timeArg(SAMPLES[0]), timeArg(SAMPLES[0]));
  const keptBefore = mtimeMsOf(moved);
  renameSync(moved, join(probe, 'renamed'));
  const renameKeepsTimes = mtimeMsOf(join(probe, 'renamed')) === keptBefore;

  let modes = false;
  try {
    chmodSync(file, 0o604);
    const a = lstatSync(file).mode & 0o7777;
    chmodSync(file, 0o640);
    const b = lstatSync(file).mode & 0o7777;
    modes = a === 0o604 && b === 0o640;
  } catch {
    modes = false; // ENOSYS, EPERM: fusefat and some NAS shares refuse chmod outright
  }

  let owners = POSIX.owners;
  if (process.getuid?.() === 0) {
    try {
      chownSync(file, 1, 1);
      const st = lstatSync(file);
      owners = st.uid === 1 && st.gid === 1;
    } catch {
      owners = false;
    }
  }

  let symlinks = false;
  try {
    symlinkSync('probe', join(probe, 'link'));
    symlinks = readlinkSync(join(probe, 'link')) === 'probe';
  } catch {
    symlinks = false;
  }

  const caseInsensitive = exists(join(probe, 'PROBE'));

  const nfc = '\u00e9';
  const nonAscii = tryCreate(join(probe, nfc));
  let normalizationInsensitive = false;
  let storesNormalized: 'NFC' | 'NFD' | undefined;
  if (nonAscii) {
    normalizationInsensitive = exists(join(probe, nfc.normalize('NFD')));
    const listed = readdirSync(probe).find((n) => n.normalize('NFC') === nfc);
    if (listed !== undefined && listed !== nfc) storesNormalized = 'NFD';
  }

  let refusedChars = '';
  for (const c of WINDOWS_REFUSED + CONTROL + DEL) if (!tryCreateAndRemove(join(probe, `x${c}x`))) refusedChars += c;

  let maxName = 255;
  if (!tryCreateAndRemove(join(probe, 'n'.repeat(255)))) {
    let lo = 1;
    let hi = 254;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (tryCreateAndRemove(join(probe, 'n'.repeat(mid)))) lo = mid;
      else hi = mid - 1;
    }
    maxName = lo;
  }
  // 128 "é" are 128 UTF-16 units but 256 UTF-8 bytes: only a file system counting units holds it.
  const nameUnit = nonAscii && maxName >= 128 && tryCreateAndRemove(join(probe, nfc.repeat(128))) ? 'utf16' : 'bytes';

  const caps: Omit<ReplicaCaps, 'fsType' | 'measured'> = {
    ...precision,
    renameKeepsTimes,
    // Only FAT keeps local time; it is also the only family storing 2 s steps (a FAT driver of another name).
    localTime: false,
    modes,
    owners,
    symlinks,
    caseInsensitive,
    normalizationInsensitive,
    nonAscii,
    maxName,
    nameUnit,
    refusedChars,
  };
  if (storesNormalized) caps.storesNormalized = storesNormalized;
  return caps;
}

/**
 * The capabilities of the file system holding `dir`, for one pass. A dry run writes nothing, so it assumes
 * the type's defaults; a real pass measures, and falls back to the defaults (saying why) when it cannot.
 */
export function replicaCapabilities(dir: string, opts: { dryRun: boolean; probeIn?: string }): { caps: ReplicaCaps; note?: string } {
  const at = existingAncestor(dir);
  const { type, mountRoot } = fileSystemOf(at);
  const family = fsFamily(type);
  // FAT and exFAT roots hold no times (they read 1970 after a remount): never compared, never set there.
  const rootTimes = !(mountRoot && at === resolve(dir) && (family === 'vfat' || family === 'exfat'));
  const finish = (caps: ReplicaCaps): ReplicaCaps => {
    const localTime = caps.localTime || family === 'vfat' || caps.mtimePrecisionMs === 2000;
    return rootTimes ? { ...caps, fsType: family, localTime } : { ...caps, fsType: family, localTime, rootTimes };
  };
  if (opts.dryRun) return { caps: finish(assumedCapabilities(type)), note: 'assumed from its type: a dry run writes nothing, so it does not probe' };
  try {
    return { caps: finish(probeCapabilities(opts.probeIn ?? at, type)) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return { caps: finish(assumedCapabilities(type)), note: `assumed from its type: the probe could not write there (${code})` };
  }
}

/**
 * The replica refused a name the probe did not foresee (a character outside the probed set, a reserved name):
 * the entry is skipped with this reason, never reported as "vanished".
 */
export class RefusedNameError extends Error {
  constructor(readonly code: string) {
    super(`the replica's file system refused the name (${code})`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Using them (pure)

/** "1 h earlier", "5 h 30 min later". */
function formatOffset(ms: number): string {
  const minutes = Math.abs(ms) / 60_000;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `${h > 0 ? `${h} h` : ''}${h > 0 && m > 0 ? ' ' : ''}${m > 0 ? `${m} min` : ''} ${ms < 0 ? 'earlier' : 'later'}`;
}

/** "2 s", "10 ms": a precision for a log line. */
export function formatPrecision(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/**
 * One sentence on what a replica does not keep, for the pass start line and `list`; undefined when it keeps
 * everything a mirror needs (ext4-like).
 */
export function describeLimits(caps: ReplicaCaps): string | undefined {
  const lost: string[] = [];
  if (!caps.modes) lost.push('permission bits');
  if (!caps.symlinks) lost.push('symbolic links');
  const parts: string[] = [];
  if (lost.length > 0) parts.push(`does not keep ${lost.join(' or ')}`);
  if (caps.mtimePrecisionMs > 1) parts.push(`keeps modification times to ${formatPrecision(caps.mtimePrecisionMs)}`);
  if (caps.mtimeOffsetMs !== 0) parts.push(`reads modification times back ${formatOffset(caps.mtimeOffsetMs)} (its driver's time-zone handling)`);
  if (caps.localTime) parts.push('keeps local time (a 1-hour shift is not a change)');
  if (caps.caseInsensitive && caps.normalizationInsensitive) parts.push('compares names without case or Unicode normalisation');
  else if (caps.caseInsensitive) parts.push('compares names without case');
  else if (caps.normalizationInsensitive) parts.push('compares names without Unicode normalisation');
  if (!caps.nonAscii) parts.push('refuses names outside ASCII');
  if (caps.refusedChars) parts.push(`refuses names with ${showChars(caps.refusedChars)}`);
  if (caps.maxName < 255) parts.push(`holds names up to ${caps.maxName} ${caps.nameUnit === 'bytes' ? 'bytes' : 'characters'}`);
  if (parts.length === 0) return undefined;
  return `the replica's file system (${caps.fsType}${caps.measured ? '' : ', assumed'}) ${parts.join(', ')}`;
}

function showChars(chars: string): string {
  return [...chars].map((c) => (c === CONTROL ? 'control characters' : c === DEL ? 'DEL' : c)).join(' ');
}

/**
 * Why the replica cannot hold an entry of this name (a planned skip), or undefined when it can. `kind` words
 * the reason: "the replica's file system (exfat) does not allow \":\" in names".
 */
export function nameProblem(name: string, caps: ReplicaCaps): string | undefined {
  // ext4-like replicas refuse no character: only the length can matter (a UTF-16 unit is at most 3 UTF-8 bytes).
  const anyChar = caps.refusedChars === '' && caps.nonAscii;
  if (anyChar && name.length * (caps.nameUnit === 'bytes' ? 3 : 1) <= caps.maxName) return undefined;
  const fs = `the replica's file system (${caps.fsType})`;
  if (!anyChar) {
    for (const c of name) {
      if (c < ' ' && caps.refusedChars.includes(CONTROL)) return `${fs} does not allow control characters in names`;
      if (caps.refusedChars.includes(c)) return `${fs} does not allow ${c === DEL ? 'DEL (U+007F)' : JSON.stringify(c)} in names`;
      if (!caps.nonAscii && c > '\u007f') return `${fs} does not allow characters outside ASCII in names`;
    }
  }
  const length = caps.nameUnit === 'bytes' ? Buffer.byteLength(name) : name.length;
  if (length > caps.maxName) return `${fs} holds names of at most ${caps.maxName} ${caps.nameUnit === 'bytes' ? 'bytes' : 'characters'}`;
  return undefined;
}

/** Simple (one-to-one) upper-casing, code point by code point: close to the exFAT/NTFS up-case tables. */
function upcase(name: string): string {
  let out = '';
  for (const c of name) {
    const u = c.toUpperCase();
    out += [...u].length === 1 ? u : c;
  }
  return out;
}

/** The key under which the replica compares a name: two names with one key are one entry there. */
export function nameKey(name: string, caps: Pick<ReplicaCaps, 'caseInsensitive' | 'normalizationInsensitive'>): string {
  let key = name;
  if (caps.normalizationInsensitive) key = key.normalize('NFC');
  if (caps.caseInsensitive) key = /^[\x20-\x7e]*$/.test(key) ? key.toUpperCase() : upcase(key);
  return key;
}

/** True when the replica compares names exactly (the fast path: a plain merge-join by name). */
export function exactNames(caps: Pick<ReplicaCaps, 'caseInsensitive' | 'normalizationInsensitive'>): boolean {
  return !caps.caseInsensitive && !caps.normalizationInsensitive;
}

const HOUR = 3_600_000;

/**
 * Whether a replica's mtime is the source's, as well as the replica can keep it: the source time put through
 * the replica's step and rounding (the coarser precision wins: a source on FAT is already in 2 s steps), and
 * on local-time file systems a shift of exactly one hour (daylight saving, another zone) is no change either.
 */
export function sameMtimeOn(
  srcMs: number,
  dstMs: number,
  caps: Pick<ReplicaCaps, 'mtimePrecisionMs' | 'mtimeRounding' | 'localTime'> & { mtimeOffsetMs?: number },
  srcLocalTime = false,
): boolean {
  const s = Math.floor(srcMs);
  // A driver that reads every time shifted (fusefat outside UTC) shifted this one too: undo it first.
  const d = Math.floor(dstMs) - (caps.mtimeOffsetMs ?? 0);
  if (matchesAt(s, d, caps)) return true;
  if (caps.localTime || srcLocalTime) return matchesAt(s + HOUR, d, caps) || matchesAt(s - HOUR, d, caps);
  return false;
}

function matchesAt(s: number, d: number, caps: Pick<ReplicaCaps, 'mtimePrecisionMs' | 'mtimeRounding'>): boolean {
  const step = caps.mtimePrecisionMs;
  if (step <= 1) return s === d;
  if (caps.mtimeRounding === 'unknown') return Math.abs(s - d) < step;
  return quantize(s, step, caps.mtimeRounding) === d;
}

// ---------------------------------------------------------------------------------------------------------
// Per device, for one pass

function deviceOf(path: string): number | undefined {
  try {
    return lstatSync(path).dev;
  } catch {
    return undefined;
  }
}

/**
 * The capabilities of each device a pass meets below the replica (a subtree can cross a mount point), the
 * replica's own first. A device is measured the first time the walk enters a folder on it, before any change
 * there; one pass, one book: nothing outlives the pass.
 */
export class ReplicaCapsBook {
  private readonly byDevice = new Map<number, ReplicaCaps>();
  /** Folders that are the root of a FAT or exFAT volume: they hold no times. */
  private readonly timeless = new Set<string>();

  constructor(
    readonly root: ReplicaCaps,
    rootPath: string,
    private readonly dryRun: boolean,
    /** Told about each further device (path of the folder where it starts, what it keeps, why assumed). */
    private readonly onDevice: (path: string, caps: ReplicaCaps, note?: string) => void,
  ) {
    const dev = deviceOf(rootPath);
    if (dev !== undefined) this.byDevice.set(dev, root);
    if (root.rootTimes === false) this.timeless.add(rootPath);
  }

  /**
   * The capabilities of the file system holding folder `path`; `inherit` when it cannot be looked at. With the
   * folder's handle (the walk's), its device is the handle's and a probe is made through the handle (`probeIn`),
   * never through a path a swap could lead elsewhere.
   */
  at(path: string, inherit: ReplicaCaps, folder?: { dev: bigint; io: string }): ReplicaCaps {
    const dev = folder ? Number(folder.dev) : deviceOf(path);
    if (dev === undefined) return inherit;
    const known = this.byDevice.get(dev);
    if (known) return known;
    // `<handle>/.`: the folder itself (lstat of the bare handle path would be the magic link's own).
    const { caps, note } = replicaCapabilities(path, { dryRun: this.dryRun, probeIn: folder && `${folder.io}/.` });
    this.byDevice.set(dev, caps);
    if (caps.rootTimes === false) this.timeless.add(path);
    this.onDevice(path, caps, note);
    return caps;
  }

  /** False for a folder that holds no times of its own (a FAT or exFAT volume's root). */
  timesKept(path: string): boolean {
    return !this.timeless.has(path);
  }
}
