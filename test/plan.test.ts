/** The pure planner: two sorted listings in, steps out. No file system. */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../src/sync/entry.js';
import { compareNames } from '../src/sync/entry.js';
import { afterCompare, metaDiff, planDir, type Step } from '../src/sync/plan.js';
import { isTempName, looksLikeTempName, tempName } from '../src/sync/temp.js';
import { tempDir } from './_tree.js';

// The temporaries' key lives in the state folder: a private one for this file, never the real one.
process.env['FOLDER_SYNC_STATE_DIR'] = tempDir('fs-state-');

const T = 1_700_000_000_000;
const f = (name: string, o: Partial<Entry> = {}): Entry => ({ name, type: 'file', mode: 0o644, size: 3, mtimeMs: T, atimeMs: T, ...o });
const d = (name: string, o: Partial<Entry> = {}): Entry => ({ name, type: 'dir', mode: 0o755, size: 4096, mtimeMs: T, atimeMs: T, ...o });
const l = (name: string, target: string): Entry => ({ name, type: 'symlink', mode: 0o777, size: target.length, mtimeMs: T, atimeMs: T, target });
const p = (name: string): Entry => ({ name, type: 'special', special: 'fifo', mode: 0o644, size: 0, mtimeMs: T, atimeMs: T });
const sorted = (xs: Entry[]): Entry[] => [...xs].sort((a, b) => compareNames(a.name, b.name));

/** A step as "<op> <name>" (+ "replacing <type>"), the shape the tables compare. */
function show(step: Step): string {
  const name = 'src' in step ? step.src.name : step.dst.name;
  const replace = 'replace' in step && step.replace ? ` replacing ${step.replace.type}` : '';
  return `${step.op} ${name}${replace}`;
}

interface Case {
  name: string;
  src: Entry[];
  dst: Entry[];
  checksum?: boolean;
  want: string[];
}

/** A temporary this user's passes would make (its tag verifies), and look-alikes that are user entries. */
const TMP = tempName();
const OLD_STYLE = '.folder-sync-partial-0123456789abcdef';
const FORGED = `${TMP.slice(0, -1)}${TMP.endsWith('0') ? '1' : '0'}`;

const cases: Case[] = [
  { name: 'both empty: nothing', src: [], dst: [], want: [] },
  { name: 'new entries of each type', src: [f('a'), d('b'), l('c', 'a'), p('q')], dst: [], want: ['copy a', 'mkdir b', 'symlink c', 'skip q'] },
  {
    name: 'extra entries of each type are removed',
    src: [],
    dst: [f('a'), d('b'), l('c', 'x'), p('q')],
    want: ['remove a', 'remove b', 'remove c', 'remove q'],
  },
  { name: 'identical file: nothing', src: [f('a')], dst: [f('a')], want: [] },
  { name: 'size differs: copy', src: [f('a', { size: 4 })], dst: [f('a')], want: ['copy a'] },
  { name: 'mtime differs: copy (quick check)', src: [f('a', { mtimeMs: T + 1 })], dst: [f('a')], want: ['copy a'] },
  { name: 'sub-millisecond mtime difference: nothing', src: [f('a', { mtimeMs: T + 0.4 })], dst: [f('a', { mtimeMs: T + 0.9 })], want: [] },
  { name: 'only mode differs: meta', src: [f('a', { mode: 0o600 })], dst: [f('a')], want: ['meta a'] },
  { name: '--checksum, same size: compare', src: [f('a')], dst: [f('a')], checksum: true, want: ['compare a'] },
  { name: '--checksum, same size other mtime: compare', src: [f('a', { mtimeMs: T + 5 })], dst: [f('a')], checksum: true, want: ['compare a'] },
  { name: '--checksum, size differs: copy without hashing', src: [f('a', { size: 9 })], dst: [f('a')], checksum: true, want: ['copy a'] },
  { name: 'folders on both sides: descend', src: [d('a')], dst: [d('a', { mode: 0o700 })], want: ['descend a'] },
  { name: 'same link target: nothing', src: [l('a', 't')], dst: [l('a', 't')], want: [] },
  { name: 'other link target: re-point', src: [l('a', 't')], dst: [l('a', 'u')], want: ['symlink a'] },
  { name: 'file where source has dir', src: [d('a')], dst: [f('a')], want: ['mkdir a replacing file'] },
  { name: 'symlink where source has dir', src: [d('a')], dst: [l('a', '/etc')], want: ['mkdir a replacing symlink'] },
  { name: 'dir where source has file', src: [f('a')], dst: [d('a')], want: ['copy a replacing dir'] },
  { name: 'symlink where source has file', src: [f('a')], dst: [l('a', 'a')], want: ['copy a replacing symlink'] },
  { name: 'dir where source has symlink', src: [l('a', 'x')], dst: [d('a')], want: ['symlink a replacing dir'] },
  { name: 'file where source has symlink', src: [l('a', 'x')], dst: [f('a')], want: ['symlink a replacing file'] },
  { name: 'fifo in replica where source has file', src: [f('a')], dst: [p('a')], want: ['copy a replacing special'] },
  { name: 'source fifo over a replica file: skipped, replica entry removed', src: [p('a')], dst: [f('a')], want: ['skip a', 'remove a'] },
  { name: 'leftover temporary is purged', src: [], dst: [f(TMP)], want: [`purge-temp ${TMP}`] },
  {
    name: 'look-alike temporaries are user entries: removed (counted, logged)',
    src: [],
    dst: [f(OLD_STYLE), f(FORGED)],
    want: [`remove ${OLD_STYLE}`, `remove ${FORGED}`],
  },
  {
    name: "a folder with a temporary's name, this user's and 0700, is this tool's own leftover (walk-build.ts)",
    src: [],
    dst: [d(TMP, { mode: 0o700, uid: process.geteuid?.() })],
    want: [`purge-temp ${TMP}`],
  },
  {
    name: "a folder with a temporary's name but another mode is a user entry",
    src: [],
    dst: [d(TMP, { uid: process.geteuid?.() })],
    want: [`remove ${TMP}`],
  },
  {
    name: "a folder with a temporary's name but another owner is a user entry",
    src: [],
    dst: [d(TMP, { mode: 0o700, uid: 4242 })],
    want: [`remove ${TMP}`],
  },
  { name: 'a forged folder name is a user entry', src: [], dst: [d(FORGED, { mode: 0o700, uid: process.geteuid?.() })], want: [`remove ${FORGED}`] },
  { name: 'a source file with a temporary-like name is mirrored', src: [f(TMP)], dst: [], want: [`copy ${TMP}`] },
  { name: 'a temporary-like name on both sides is compared normally', src: [f(TMP, { size: 5 })], dst: [f(TMP)], want: [`copy ${TMP}`] },
  {
    name: 'removals come after everything the source has',
    src: [f('b'), f('d')],
    dst: [f('a'), f('c'), f('e')],
    want: ['copy b', 'copy d', 'remove a', 'remove c', 'remove e'],
  },
  {
    name: 'NFC and NFD twins stay apart',
    src: sorted([f('caf\u00e9'), f('cafe\u0301')]),
    dst: [f('caf\u00e9')],
    want: ['copy cafe\u0301'],
  },
  {
    name: 'names sort by code unit on both sides (upper case, dots, unicode)',
    src: sorted([f('B'), f('a'), f('.x'), f('\u00e9'), f('z')]),
    dst: sorted([f('a'), f('\u00e9')]),
    want: ['copy .x', 'copy B', 'copy z'],
  },
];

describe('planDir', () => {
  for (const c of cases) {
    it(c.name, () => {
      const steps = planDir(c.src, c.dst, { checksum: c.checksum ?? false });
      expect(steps.map(show)).toEqual(c.want);
    });
  }

  it('is pure: the listings are not modified', () => {
    const src = [f('a', { size: 9 }), d('b')];
    const dst = [f('a'), f('c')];
    const before = JSON.stringify([src, dst]);
    planDir(src, dst, { checksum: true });
    expect(JSON.stringify([src, dst])).toBe(before);
  });

  it('a replaced entry is not also removed as an extra', () => {
    const steps = planDir([d('a')], [f('a')], { checksum: false });
    expect(steps.filter((s) => s.op === 'remove')).toEqual([]);
  });
});

describe('afterCompare', () => {
  const cases: { name: string; s: Entry; d: Entry; equal: boolean; want: string | undefined }[] = [
    { name: 'contents differ: copy', s: f('a'), d: f('a'), equal: false, want: 'copy a' },
    { name: 'equal and same metadata: nothing', s: f('a'), d: f('a'), equal: true, want: undefined },
    { name: 'equal, mtime differs: meta', s: f('a', { mtimeMs: T + 7 }), d: f('a'), equal: true, want: 'meta a' },
    { name: 'equal, mode differs: meta', s: f('a', { mode: 0o400 }), d: f('a'), equal: true, want: 'meta a' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const step = afterCompare(c.s, c.d, c.equal);
      expect(step && show(step)).toBe(c.want);
    });
  }
});

describe('metadata only: fixed in place, unless that gives the file to another owner or adds a setuid/setgid bit (then copied again)', () => {
  const owners = { owners: true };
  const cases: { name: string; s: Entry; d: Entry; opts: { owners?: boolean }; want: string; meta?: string[] }[] = [
    { name: 'mode only', s: f('a', { mode: 0o600 }), d: f('a'), opts: owners, want: 'meta a' },
    { name: 'owner (mirrored)', s: f('a', { uid: 0, gid: 0 }), d: f('a', { uid: 1000, gid: 1000 }), opts: owners, want: 'copy a', meta: ['owner'] },
    { name: 'group (mirrored)', s: f('a', { uid: 5, gid: 0 }), d: f('a', { uid: 5, gid: 7 }), opts: owners, want: 'copy a', meta: ['owner'] },
    { name: 'owner, not mirrored (not root): nothing', s: f('a', { uid: 0, gid: 0 }), d: f('a', { uid: 9, gid: 9 }), opts: {}, want: 'none' },
    { name: 'setuid added (owners mirrored)', s: f('a', { mode: 0o4755 }), d: f('a', { mode: 0o755 }), opts: owners, want: 'copy a', meta: ['mode'] },
    { name: 'setgid added (owners mirrored)', s: f('a', { mode: 0o2755 }), d: f('a', { mode: 0o755 }), opts: owners, want: 'copy a', meta: ['mode'] },
    { name: 'setuid kept, other bits change', s: f('a', { mode: 0o4750 }), d: f('a', { mode: 0o4755 }), opts: owners, want: 'meta a' },
    { name: 'setuid removed', s: f('a', { mode: 0o755 }), d: f('a', { mode: 0o4755 }), opts: owners, want: 'meta a' },
    { name: 'setuid not mirrored (not root): nothing to add', s: f('a', { mode: 0o4755 }), d: f('a', { mode: 0o755 }), opts: {}, want: 'none' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const [step] = planDir([c.s], [c.d], { checksum: false, ...c.opts });
      expect(step ? show(step) : 'none').toBe(c.want);
      if (c.meta) expect(step && 'meta' in step && step.meta).toEqual(c.meta);
      // The same after a content comparison (--checksum) found the bytes equal.
      const after = afterCompare(c.s, c.d, true, c.opts);
      expect(after ? show(after) : 'none').toBe(c.want);
    });
  }
});

describe('metaDiff', () => {
  const cases: { s: Entry; d: Entry; want: string[] }[] = [
    { s: f('a'), d: f('a'), want: [] },
    { s: f('a', { mode: 0o600 }), d: f('a'), want: ['mode'] },
    { s: f('a', { mtimeMs: T + 1 }), d: f('a'), want: ['mtime'] },
    { s: d('a', { mode: 0o555, mtimeMs: T - 1 }), d: d('a'), want: ['mode', 'mtime'] },
  ];
  for (const c of cases) it(`${c.want.join('+') || 'none'}`, () => expect(metaDiff(c.s, c.d)).toEqual(c.want));
});

describe('temporary names', () => {
  const cases: [string, boolean][] = [
    [TMP, true],
    [OLD_STYLE, false],
    [FORGED, false],
    ['.folder-sync-partial-0123456789ABCDEF', false],
    ['.folder-sync-partial-0123456789abcde', false],
    ['.folder-sync-partial-0123456789abcdef0', false],
    ['folder-sync-partial-0123456789abcdef', false],
    ['.folder-sync-partial-', false],
  ];
  for (const [name, want] of cases) it(`${JSON.stringify(name)} -> ${want}`, () => expect(isTempName(name)).toBe(want));
  it('tempName() makes names isTempName() recognises, and different ones', () => {
    const a = tempName();
    const b = tempName();
    expect(isTempName(a)).toBe(true);
    expect(a).not.toBe(b);
    expect(looksLikeTempName(FORGED)).toBe(true);
  });
  it('a leftover named by an earlier version (HMAC-SHA256 tag) is still recognised; a tag under another key is not', () => {
    tempName(); // makes sure the key exists
    const key = readFileSync(join(process.env['FOLDER_SYNC_STATE_DIR'] as string, 'temp-key'));
    const nonce = 'aaaabbbbccccdddd';
    const hmac = (k: Buffer, n = nonce): string => createHmac('sha256', k).update(n).digest('hex').slice(0, 16);
    expect(isTempName(`.folder-sync-partial-${nonce}${hmac(key)}`)).toBe(true);
    expect(isTempName(`.folder-sync-partial-${nonce}${hmac(Buffer.alloc(32, 7))}`)).toBe(false);
    // and today's tag is not that HMAC (so the first line tests the earlier scheme, not today's)
    const today = tempName();
    expect(today.slice(-16)).not.toBe(hmac(key, today.slice('.folder-sync-partial-'.length, -16)));
  });
});
