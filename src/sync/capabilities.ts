/**
 * Replica capabilities as data, and the pure rules that use them (names the replica can hold, the key it compares
 * names by, whether two times are the same there, the sentence on what it does not keep). Measuring them:
 * capabilities-probe.ts; which file system holds a folder: fs-type.ts.
 */
import { hasOwnTag } from './temp.js';

/**
 * What a replica's file system keeps, as data the planner decides with (rclone's fs.Features + Precision()).
 * Measured once per pass and per device with a short-lived folder of this tool's own in the replica
 * (`probeCapabilities`, capabilities-probe.ts), or assumed from the file-system type where nothing may be
 * written (`assumedCapabilities`: dry runs, a folder this user cannot write). Nothing is cached across passes: a
 * remount can change any of it.
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
/** The characters the probe tries in a name, one by one (capabilities-probe.ts). */
export const PROBED_CHARS = WINDOWS_REFUSED + CONTROL + DEL;

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
export const MTIME_SAMPLES = [1_700_000_001_236, 1_700_000_002_781] as const;
const STEPS = [1, 10, 100, 1000, 2000] as const;
const ROUNDINGS = ['truncate', 'nearest', 'up'] as const;

function quantize(ms: number, step: number, rounding: 'truncate' | 'nearest' | 'up'): number {
  const q = rounding === 'truncate' ? Math.floor(ms / step) : rounding === 'up' ? Math.ceil(ms / step) : Math.round(ms / step);
  return q * step;
}

const QUARTER_HOUR = 900_000;

/** Precision, rounding and offset from what the file system kept of MTIME_SAMPLES (pure; exported for the table tests). */
export function precisionFrom(kept: readonly number[]): Pick<ReplicaCaps, 'mtimePrecisionMs' | 'mtimeRounding' | 'mtimeOffsetMs'> {
  // A shift by whole quarter hours is a time-zone conversion, not precision (steps are 2 s at most).
  const mtimeOffsetMs = Math.round(((kept[0] ?? MTIME_SAMPLES[0]) - MTIME_SAMPLES[0]) / QUARTER_HOUR) * QUARTER_HOUR || 0; // never -0
  for (const step of STEPS) {
    for (const rounding of ROUNDINGS) {
      if (MTIME_SAMPLES.every((t, i) => quantize(t, step, rounding) + mtimeOffsetMs === kept[i])) {
        return { mtimePrecisionMs: step, mtimeRounding: rounding, mtimeOffsetMs };
      }
    }
  }
  // Nothing fits (an odd driver): compare with a window as wide as the largest error seen.
  const error = Math.max(...MTIME_SAMPLES.map((t, i) => Math.abs((kept[i] ?? t) - mtimeOffsetMs - t)));
  return { mtimePrecisionMs: STEPS.find((s) => s > error) ?? Math.ceil(error / 1000) * 1000 + 1000, mtimeRounding: 'unknown', mtimeOffsetMs };
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
