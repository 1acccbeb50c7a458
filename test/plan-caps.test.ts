/**
 * The planner with a replica's capabilities (src/sync/capabilities.ts), simulated: exFAT, FAT, sshfs, NTFS as
 * measured here, and the case- and normalisation-insensitive volumes that cannot be mounted here (APFS, HFS+,
 * NTFS on Windows). Pure: no file system.
 */
import { describe, expect, it } from 'vitest';
import { defaultCapabilities, PROBE_PREFIX, type ReplicaCaps } from '../src/sync/capabilities.js';
import { compareNames, type Entry } from '../src/sync/entry.js';
import { afterCompare, metaDiff, planDir, planDirOn, type PlannedStep } from '../src/sync/plan.js';
import { taggedName, tempName } from '../src/sync/temp.js';
import { tempDir } from './_tree.js';

// Leftovers are recognised by a tag keyed in the state folder (issue 11 point 6): a private one for this file.
process.env['FOLDER_SYNC_STATE_DIR'] = tempDir('fs-state-');
const PROBE = taggedName(PROBE_PREFIX);
const TMP = tempName();

/** A whole even second, so FAT's 2 s steps and exFAT's 1 s steps both start here. */
const T = 1_700_000_000_000;
const f = (name: string, o: Partial<Entry> = {}): Entry => ({ name, type: 'file', mode: 0o644, size: 3, mtimeMs: T, atimeMs: T, ...o });
const d = (name: string, o: Partial<Entry> = {}): Entry => ({ name, type: 'dir', mode: 0o755, size: 4096, mtimeMs: T, atimeMs: T, ...o });
const l = (name: string, target: string): Entry => ({ name, type: 'symlink', mode: 0o777, size: target.length, mtimeMs: T, atimeMs: T, target });
const sorted = (xs: Entry[]): Entry[] => [...xs].sort((a, b) => compareNames(a.name, b.name));

const caps = (o: Partial<ReplicaCaps>): ReplicaCaps => ({ ...defaultCapabilities(o.fsType ?? 'test'), measured: true, ...o });
const WINDOWS_CHARS = '"*:<>?\\|\x01';
/** As measured on exfat-fuse 1.3 (docs/filesystems.md). */
const EXFAT = caps({
  fsType: 'exfat',
  mtimePrecisionMs: 1000,
  mtimeRounding: 'truncate',
  modes: false,
  owners: false,
  symlinks: false,
  caseInsensitive: true,
  nameUnit: 'utf16',
  refusedChars: WINDOWS_CHARS,
});
/** As measured on fusefat (FAT32). */
const FAT = caps({
  fsType: 'vfat',
  mtimePrecisionMs: 2000,
  mtimeRounding: 'truncate',
  localTime: true,
  modes: false,
  owners: false,
  symlinks: false,
  caseInsensitive: true,
  nonAscii: false,
  refusedChars: WINDOWS_CHARS,
});
/** Windows' own FAT driver rounds up to the next even second; the DST rule is the same. */
const FAT_UP = { ...FAT, mtimeRounding: 'up' as const };
/** A dry run on a FAT replica: assumed, rounding unknown. */
const FAT_ASSUMED = { ...FAT, measured: false, mtimeRounding: 'unknown' as const };
const SSHFS = caps({ fsType: 'sshfs', mtimePrecisionMs: 1000, mtimeRounding: 'truncate' });
const NTFS3G = caps({ fsType: 'ntfs', modes: false, owners: false, nameUnit: 'utf16' });
const NTFS_WINDOWS = caps({
  fsType: 'ntfs',
  modes: false,
  owners: false,
  symlinks: false,
  caseInsensitive: true,
  nameUnit: 'utf16',
  refusedChars: WINDOWS_CHARS,
});
const APFS = caps({ fsType: 'apfs', caseInsensitive: true, normalizationInsensitive: true });
const HFS = caps({ fsType: 'hfs', caseInsensitive: true, normalizationInsensitive: true, storesNormalized: 'NFD', mtimePrecisionMs: 1000 });
const EXT4 = caps({ fsType: 'ext4' });

function show(step: PlannedStep): string {
  const name = 'src' in step ? step.src.name : step.dst.name;
  if (step.op === 'rename') return `rename ${step.dst.name} -> ${step.src.name}`;
  if (step.op === 'skip' && step.reason) return `skip ${name}: ${step.reason}`;
  const replace = 'replace' in step && step.replace ? ` replacing ${step.replace.type}` : '';
  return `${step.op} ${name}${replace}`;
}

interface Case {
  name: string;
  caps: ReplicaCaps;
  src: Entry[];
  dst: Entry[];
  checksum?: boolean;
  srcLocalTime?: boolean;
  want: string[];
}

const cases: Case[] = [
  // Times at the replica's precision
  {
    name: 'exFAT: a copy kept to 1 s (truncated) is unchanged',
    caps: EXFAT,
    src: [f('a', { mtimeMs: T + 1234 })],
    dst: [f('a', { mtimeMs: T + 1000 })],
    want: [],
  },
  {
    name: 'exFAT: 1 s off after truncation is a change',
    caps: EXFAT,
    src: [f('a', { mtimeMs: T + 1234 })],
    dst: [f('a', { mtimeMs: T })],
    want: ['copy a'],
  },
  {
    name: 'FAT: a copy kept to 2 s (truncated) is unchanged',
    caps: FAT,
    src: [f('a', { mtimeMs: T + 1999 })],
    dst: [f('a', { mtimeMs: T })],
    want: [],
  },
  { name: 'FAT rounding up (Windows): unchanged', caps: FAT_UP, src: [f('a', { mtimeMs: T + 1 })], dst: [f('a', { mtimeMs: T + 2000 })], want: [] },
  {
    name: 'FAT assumed (dry run): within one step either way is unchanged',
    caps: FAT_ASSUMED,
    src: [f('a', { mtimeMs: T + 1999 })],
    dst: [f('a', { mtimeMs: T + 2000 })],
    want: [],
  },
  { name: 'sshfs: a copy kept to 1 s is unchanged', caps: SSHFS, src: [f('a', { mtimeMs: T + 999 })], dst: [f('a', { mtimeMs: T })], want: [] },
  { name: 'ext4: a millisecond is a change', caps: EXT4, src: [f('a', { mtimeMs: T + 1 })], dst: [f('a')], want: ['copy a'] },
  ...[EXFAT, FAT, FAT_UP, FAT_ASSUMED, SSHFS, NTFS3G, EXT4, APFS, HFS].map((c) => ({
    name: `${c.fsType}${c.mtimeRounding === 'up' ? ' (round up)' : ''}${c.measured ? '' : ' (assumed)'}: a same-size edit 3 s later is a change`,
    caps: c,
    src: [f('a', { mtimeMs: T + 3000 })],
    dst: [f('a', { mtimeMs: T })],
    want: ['copy a'],
  })),
  // FAT keeps local time: a daylight-saving shift is exactly one hour
  {
    name: 'FAT: exactly one hour later is no change (DST)',
    caps: FAT,
    src: [f('a', { mtimeMs: T + 3_600_000 })],
    dst: [f('a', { mtimeMs: T })],
    want: [],
  },
  {
    name: 'FAT: exactly one hour earlier is no change (DST)',
    caps: FAT,
    src: [f('a', { mtimeMs: T - 3_600_000 + 500 })],
    dst: [f('a', { mtimeMs: T })],
    want: [],
  },
  {
    name: 'FAT: one hour and 2 s is a change',
    caps: FAT,
    src: [f('a', { mtimeMs: T + 3_602_000 })],
    dst: [f('a', { mtimeMs: T })],
    want: ['copy a'],
  },
  { name: 'FAT: two hours is a change', caps: FAT, src: [f('a', { mtimeMs: T + 7_200_000 })], dst: [f('a', { mtimeMs: T })], want: ['copy a'] },
  {
    name: 'exFAT (stores the UTC offset): one hour is a change',
    caps: EXFAT,
    src: [f('a', { mtimeMs: T + 3_600_000 })],
    dst: [f('a', { mtimeMs: T })],
    want: ['copy a'],
  },
  {
    name: 'a FAT source (camera card) to ext4: one hour is no change',
    caps: EXT4,
    srcLocalTime: true,
    src: [f('a', { mtimeMs: T + 3_600_000 })],
    dst: [f('a', { mtimeMs: T })],
    want: [],
  },
  // Permission bits only where they stick
  {
    name: 'exFAT: modes differ (777 there) but do not stick: nothing',
    caps: EXFAT,
    src: [f('a', { mode: 0o644 })],
    dst: [f('a', { mode: 0o777 })],
    want: [],
  },
  { name: 'NTFS (ntfs-3g): modes do not stick: nothing', caps: NTFS3G, src: [f('a', { mode: 0o600 })], dst: [f('a', { mode: 0o777 })], want: [] },
  { name: 'sshfs: modes stick: meta', caps: SSHFS, src: [f('a', { mode: 0o600 })], dst: [f('a')], want: ['meta a'] },
  // What the replica cannot hold
  {
    name: 'exFAT: a symlink is a planned skip',
    caps: EXFAT,
    src: [l('link', 'a')],
    dst: [],
    want: ["skip link: the replica's file system (exfat) cannot hold symbolic links"],
  },
  {
    name: 'FAT: a symlink over a replica file: skip, and the file goes',
    caps: FAT,
    src: [l('x', 'a')],
    dst: [f('x')],
    want: ["skip x: the replica's file system (vfat) cannot hold symbolic links", 'remove x'],
  },
  { name: 'NTFS (ntfs-3g) holds symlinks', caps: NTFS3G, src: [l('link', 'a')], dst: [], want: ['symlink link'] },
  {
    name: 'exFAT: ":" is refused',
    caps: EXFAT,
    src: [f('a:b.txt')],
    dst: [],
    want: [`skip a:b.txt: the replica's file system (exfat) does not allow ":" in names`],
  },
  {
    name: 'exFAT: "?" is refused',
    caps: EXFAT,
    src: [f('what?.txt')],
    dst: [],
    want: [`skip what?.txt: the replica's file system (exfat) does not allow "?" in names`],
  },
  {
    name: 'exFAT: control characters are refused',
    caps: EXFAT,
    src: [f('a\tb')],
    dst: [],
    want: [`skip a\tb: the replica's file system (exfat) does not allow control characters in names`],
  },
  {
    name: 'a refused folder name skips the folder',
    caps: EXFAT,
    src: [d('x|y')],
    dst: [],
    want: [`skip x|y: the replica's file system (exfat) does not allow "|" in names`],
  },
  {
    name: 'fusefat: names outside ASCII are refused',
    caps: FAT,
    src: [f('caf\u00e9')],
    dst: [],
    want: [`skip caf\u00e9: the replica's file system (vfat) does not allow characters outside ASCII in names`],
  },
  {
    name: 'ext4: 200 "é" are 400 bytes, too long',
    caps: EXT4,
    src: [f('\u00e9'.repeat(200))],
    dst: [],
    want: [`skip ${'\u00e9'.repeat(200)}: the replica's file system (ext4) holds names of at most 255 bytes`],
  },
  { name: 'exFAT: 200 "é" are 200 characters, fine', caps: EXFAT, src: [f('\u00e9'.repeat(200))], dst: [], want: [`copy ${'\u00e9'.repeat(200)}`] },
  { name: 'ext4 takes everything exFAT refuses', caps: EXT4, src: [f('a:b'), l('l', 'x')], dst: [], want: ['copy a:b', 'symlink l'] },
  // Case-insensitive replicas
  {
    name: 'case-only rename: renamed in place, not copied',
    caps: EXFAT,
    src: [f('IMG_0001.jpg')],
    dst: [f('IMG_0001.JPG')],
    want: ['rename IMG_0001.JPG -> IMG_0001.jpg'],
  },
  {
    name: 'case-only rename of a changed file: rename, then copy',
    caps: EXFAT,
    src: [f('IMG_0001.jpg', { size: 9 })],
    dst: [f('IMG_0001.JPG')],
    want: ['rename IMG_0001.JPG -> IMG_0001.jpg', 'copy IMG_0001.jpg'],
  },
  {
    name: 'case-only rename of a folder: rename, then descend',
    caps: NTFS_WINDOWS,
    src: [d('Photos')],
    dst: [d('photos')],
    want: ['rename photos -> Photos', 'descend Photos'],
  },
  {
    name: 'case-only rename where the type changed: rename, then replace',
    caps: EXFAT,
    src: [d('Docs')],
    dst: [f('DOCS')],
    want: ['rename DOCS -> Docs', 'mkdir Docs replacing file'],
  },
  {
    name: 'non-ASCII case: É and é are one entry',
    caps: EXFAT,
    src: [f('\u00c9t\u00e9.txt')],
    dst: [f('\u00e9t\u00e9.txt')],
    want: ['rename \u00e9t\u00e9.txt -> \u00c9t\u00e9.txt'],
  },
  {
    name: 'case clash: the first in name order is mirrored, the other skipped naming it',
    caps: EXFAT,
    src: sorted([f('Readme.txt'), f('README.txt', { size: 5 })]),
    dst: [],
    want: [
      'copy README.txt',
      `skip Readme.txt: the replica's file system (exfat) compares names without case: it would be the same entry as "README.txt", which is mirrored`,
    ],
  },
  {
    name: 'case clash, replica holds the later one (from before the clash): renamed to the first, never flip-flops',
    caps: EXFAT,
    src: sorted([f('Readme.txt'), f('README.txt', { size: 5 })]),
    dst: [f('Readme.txt')],
    want: [
      'rename Readme.txt -> README.txt',
      'copy README.txt',
      `skip Readme.txt: the replica's file system (exfat) compares names without case: it would be the same entry as "README.txt", which is mirrored`,
    ],
  },
  {
    name: 'case clash, next pass: only the skip (stable)',
    caps: EXFAT,
    src: sorted([f('Readme.txt'), f('README.txt', { size: 5 })]),
    dst: [f('README.txt', { size: 5, mode: 0o777 })],
    want: [
      `skip Readme.txt: the replica's file system (exfat) compares names without case: it would be the same entry as "README.txt", which is mirrored`,
    ],
  },
  {
    name: 'case clash where the first cannot be held: the next one takes the name',
    caps: EXFAT,
    src: sorted([l('A', 'x'), f('a')]),
    dst: [],
    want: ["skip A: the replica's file system (exfat) cannot hold symbolic links", 'copy a'],
  },
  { name: 'a replica extra under another case is removed', caps: EXFAT, src: [f('b')], dst: [f('A')], want: ['copy b', 'remove A'] },
  {
    name: 'case-sensitive replica (ext4): a case-only rename is create + remove',
    caps: EXT4,
    src: [f('IMG.jpg')],
    dst: [f('IMG.JPG')],
    want: ['copy IMG.jpg', 'remove IMG.JPG'],
  },
  {
    name: 'case-sensitive replica (ext4): Readme and README both mirrored',
    caps: EXT4,
    src: sorted([f('Readme'), f('README')]),
    dst: [],
    want: ['copy README', 'copy Readme'],
  },
  // Normalisation-insensitive replicas
  {
    name: 'APFS: NFC source, NFD replica entry: renamed in place',
    caps: APFS,
    src: [f('caf\u00e9')],
    dst: [f('cafe\u0301')],
    want: ['rename cafe\u0301 -> caf\u00e9'],
  },
  {
    name: 'HFS+ stores NFD: an NFC source name matches its NFD entry, nothing to do',
    caps: HFS,
    src: [f('caf\u00e9')],
    dst: [f('cafe\u0301')],
    want: [],
  },
  {
    name: 'APFS: NFC and NFD twins in the source collide',
    caps: APFS,
    src: sorted([f('caf\u00e9'), f('cafe\u0301')]),
    dst: [],
    want: [
      'copy cafe\u0301',
      `skip caf\u00e9: the replica's file system (apfs) compares names without case or Unicode normalisation: it would be the same entry as "cafe\u0301", which is mirrored`,
    ],
  },
  {
    name: 'exFAT keeps NFC and NFD apart (measured)',
    caps: EXFAT,
    src: sorted([f('caf\u00e9'), f('cafe\u0301')]),
    dst: [f('caf\u00e9')],
    want: ['copy cafe\u0301'],
  },
  {
    name: 'APFS: case and normalisation at once',
    caps: APFS,
    src: [f('CAF\u00c9')],
    dst: [f('cafe\u0301')],
    want: ['rename cafe\u0301 -> CAF\u00c9'],
  },
  // Debris
  {
    name: 'a leftover probe folder is purged',
    caps: EXFAT,
    src: [],
    dst: [d(PROBE, { mode: 0o700, uid: process.geteuid?.() })],
    want: [`purge-temp ${PROBE}`],
  },
  {
    name: 'a leftover probe folder is purged (exact names)',
    caps: EXT4,
    src: [],
    dst: [d(PROBE, { mode: 0o700, uid: process.geteuid?.() })],
    want: [`purge-temp ${PROBE}`],
  },
  {
    name: 'a probe-named folder not as a pass makes it (another mode) is a user entry',
    caps: EXT4,
    src: [],
    dst: [d(PROBE, { uid: process.geteuid?.() })],
    want: [`remove ${PROBE}`],
  },
  {
    name: 'a leftover temporary is purged (insensitive)',
    caps: EXFAT,
    src: [],
    dst: [f(TMP)],
    want: [`purge-temp ${TMP}`],
  },
  // --checksum still decides by contents
  {
    name: '--checksum on exFAT: same size: compare',
    caps: EXFAT,
    checksum: true,
    src: [f('a')],
    dst: [f('a', { mtimeMs: T + 5000 })],
    want: ['compare a'],
  },
];

describe('planDirOn with replica capabilities', () => {
  for (const c of cases) {
    it(c.name, () => {
      const steps = planDirOn(c.src, c.dst, { checksum: c.checksum ?? false, caps: c.caps, srcLocalTime: c.srcLocalTime ?? false });
      expect(steps.map(show)).toEqual(c.want);
    });
  }

  it('is stable: planning again after the renames and copies plans nothing but the same skips', () => {
    const src = sorted([f('IMG_0001.jpg'), f('Readme.txt'), f('README.txt', { size: 5 }), l('link', 'x'), f('a:b')]);
    const first = planDirOn(src, [f('IMG_0001.JPG'), f('readme.TXT', { size: 5 })], { checksum: false, caps: EXFAT });
    const second = planDirOn(src, [f('IMG_0001.jpg', { mode: 0o777 }), f('README.txt', { size: 5, mode: 0o777 })], { checksum: false, caps: EXFAT });
    expect(first.filter((s) => s.op !== 'skip').map(show)).toEqual(['rename IMG_0001.JPG -> IMG_0001.jpg', 'rename readme.TXT -> README.txt']);
    expect(second.map((s) => s.op)).toEqual(['skip', 'skip', 'skip']);
    expect(second.map(show)).toEqual(first.filter((s) => s.op === 'skip').map(show));
  });

  it('planDir (exact names) ignores case-insensitivity but keeps precision, modes and refusals', () => {
    const steps = planDir([f('IMG.jpg', { mtimeMs: T + 500, mode: 0o600 }), l('l', 'x')], [f('IMG.jpg', { mode: 0o777 })], {
      checksum: false,
      caps: EXFAT,
    });
    expect(steps.map(show)).toEqual(["skip l: the replica's file system (exfat) cannot hold symbolic links"]);
    expect(planDir([f('B')], [f('b')], { checksum: false, caps: EXFAT }).map(show)).toEqual(['copy B', 'remove b']);
  });

  it('without capabilities: the millisecond rule of before', () => {
    expect(planDirOn([f('a', { mtimeMs: T + 1 })], [f('a')], { checksum: false }).map(show)).toEqual(['copy a']);
    expect(planDirOn([f('a', { mode: 0o600 })], [f('a')], { checksum: false }).map(show)).toEqual(['meta a']);
  });
});

describe('afterCompare and metaDiff with capabilities', () => {
  it('equal contents on exFAT: modes that do not stick and times within the step are no change', () => {
    expect(afterCompare(f('a', { mode: 0o600, mtimeMs: T + 700 }), f('a', { mode: 0o777 }), true, { caps: EXFAT })).toBeUndefined();
    expect(afterCompare(f('a', { mtimeMs: T + 3000 }), f('a'), true, { caps: EXFAT })?.op).toBe('meta');
    expect(afterCompare(f('a'), f('a'), false, { caps: EXFAT })?.op).toBe('copy');
  });
  it('a folder on FAT: only the time, and one hour is no change', () => {
    expect(metaDiff(d('x', { mode: 0o700 }), d('x', { mtimeMs: T + 3_600_000 }), { caps: FAT })).toEqual([]);
    expect(metaDiff(d('x', { mode: 0o700 }), d('x', { mtimeMs: T + 4000 }), { caps: FAT })).toEqual(['mtime']);
    expect(metaDiff(d('x', { mode: 0o700 }), d('x'), { caps: SSHFS })).toEqual(['mode']);
  });
});
