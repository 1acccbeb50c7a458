/**
 * Measuring what a replica's file system keeps (capabilities.ts), with a short-lived folder of this tool's own in
 * the replica, or assuming it from the file-system type where nothing may be written; and the book of each
 * device a pass meets below the replica.
 */
import {
  closeSync,
  chmodSync,
  chownSync,
  constants,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import {
  assumedCapabilities,
  defaultCapabilities,
  fsFamily,
  precisionFrom,
  PROBE_PREFIX,
  PROBED_CHARS,
  MTIME_SAMPLES,
  type ReplicaCaps,
} from './capabilities.js';
import { exists } from './entry.js';
import { existingAncestor, fileSystemOf, fileSystemType } from './fs-type.js';
import { taggedName } from './temp.js';
import { timeArg } from './times.js';

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
  const kept = MTIME_SAMPLES.map((t) => {
    utimesSync(file, timeArg(t), timeArg(t));
    return mtimeMsOf(file);
  });
  const precision = precisionFrom(kept);

  const moved = join(probe, 'moved');
  if (!tryCreate(moved)) throw new Error(`cannot create a file in ${probe}`);
  utimesSync(moved, timeArg(MTIME_SAMPLES[0]), timeArg(MTIME_SAMPLES[0]));
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

  let owners = defaultCapabilities().owners;
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
  for (const c of PROBED_CHARS) if (!tryCreateAndRemove(join(probe, `x${c}x`))) refusedChars += c;

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
