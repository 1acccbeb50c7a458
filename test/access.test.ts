/**
 * The access layer (src/sync/access.ts) on its own: every operation lands in the folder that was opened, even
 * when that folder's path is swapped for a link or another folder after opening. Run in both mechanisms:
 * 'fd' (Linux: working folder pinned through /proc/self/fd) and 'path' (the portable fallback: checked chdir).
 */
import { closeSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, statSync, symlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allowChdirListing } from '../src/sync/entry.js';
import { OpenFolder, setAccessMode, type AccessMode } from '../src/sync/access.js';
import { unpinWorkingFolder } from '../src/sync/working-folder.js';
import { EntryChangedError } from '../src/sync/handles.js';
import { landsInMs, timeArg } from '../src/sync/times.js';
import { buildTree, compareTrees, snapshotTree, symlink, tempDir } from './_tree.js';

const startCwd = process.cwd();
const opened: OpenFolder[] = [];
const track = (f: OpenFolder): OpenFolder => (opened.push(f), f);

afterEach(() => {
  for (const f of opened.splice(0)) f.close();
  unpinWorkingFolder();
});
afterAll(() => {
  setAccessMode(process.env['FOLDER_SYNC_ACCESS'] === 'path' ? 'path' : 'fd');
  allowChdirListing(false);
});

const mechanisms: AccessMode[] = process.platform === 'linux' ? ['fd', 'path'] : ['path'];
// Each mechanism as the CLI runs it (the working folder may be pinned) and as an embedder's process (never moved).
const modes = mechanisms.flatMap((m) => [
  [m, 'CLI'],
  [m, 'API'],
]) as [AccessMode, 'CLI' | 'API'][];

describe.each(modes)('OpenFolder (%s mode, %s)', (mode, caller) => {
  beforeEach(() => allowChdirListing(caller === 'CLI'));

  it('lists, looks up, creates, renames, removes, sets metadata: all inside the opened folder', () => {
    setAccessMode(mode);
    const root = buildTree(tempDir('fs-access-'), { a: 'alpha', sub: { b: 'beta' }, link: symlink('a') });
    const folder = track(OpenFolder.openRoot(root));
    const listing = folder.list();
    expect(listing.entries.map((e) => [e.name, e.type])).toEqual([
      ['a', 'file'],
      ['link', 'symlink'],
      ['sub', 'dir'],
    ]);
    expect(listing.entries[1]?.target).toBe('a');
    expect(folder.entry('link').target).toBe('a');

    const sub = track(folder.openChild('sub', listing.entries[2]));
    expect(sub.list().entries.map((e) => e.name)).toEqual(['b']);

    const { fd, stat } = folder.openFile('a', listing.entries[0]);
    expect(stat.size).toBe(5n);
    closeSync(fd);

    const tmp = sub.createTemp();
    writeSync(tmp.fd, 'new');
    closeSync(tmp.fd);
    sub.rename(tmp.name, 'c');
    expect(readFileSync(join(root, 'sub', 'c'), 'utf8')).toBe('new');
    sub.rename('c', 'c-up', folder); // between two opened folders
    expect(readFileSync(join(root, 'c-up'), 'utf8')).toBe('new');

    const made = track(folder.mkdir('made'));
    made.symlink('../a', 'up');
    expect(readlinkSync(join(root, 'made', 'up'))).toBe('../a');
    made.setMode(0o751);
    made.setTimes(1_000_000, 2_000_123);
    const st = statSync(join(root, 'made'));
    expect(st.mode & 0o7777).toBe(0o751);
    expect(Math.floor(st.mtimeMs)).toBe(2_000_123);
    made.unlink('up');
    folder.rmdir('made');
    expect(existsSync(join(root, 'made'))).toBe(false);

    folder.setFileMeta('a', listing.entries[0], { mode: 0o604, atimeMs: 5_000, mtimeMs: 6_007 });
    expect(statSync(join(root, 'a')).mode & 0o7777).toBe(0o604);
    expect(Math.floor(statSync(join(root, 'a')).mtimeMs)).toBe(6_007);
  });

  it('a folder swapped for a link after it was opened: nothing is created, removed or chmodded at the link target', () => {
    setAccessMode(mode);
    const outside = buildTree(tempDir('fs-access-out-'), { victim: 'precious', inner: { v: 'v' } });
    const before = snapshotTree(outside);
    const root = buildTree(tempDir('fs-access-'), { d: { victim: 'replica copy' } });
    const top = track(OpenFolder.openRoot(root));
    const d = track(top.openChild('d'));
    unpinWorkingFolder(); // the swap happens while the pass is elsewhere
    renameSync(join(root, 'd'), join(root, 'd-moved'));
    symlinkSync(outside, join(root, 'd'));
    const attempt = (): void => {
      d.unlink('victim');
      const t = d.createTemp();
      closeSync(t.fd);
      d.setMode(0o777);
    };
    if (mode === 'fd') {
      attempt(); // lands in the folder that was opened, wherever it now is
      expect(existsSync(join(root, 'd-moved', 'victim'))).toBe(false);
      expect(statSync(join(root, 'd-moved')).mode & 0o777).toBe(0o777);
    } else {
      expect(attempt).toThrow(EntryChangedError); // the checked chdir sees another folder
    }
    expect(compareTrees(before, snapshotTree(outside))).toEqual([]);
  });

  it('openChild refuses a link or a different folder in place of the listed one', () => {
    setAccessMode(mode);
    const outside = tempDir('fs-access-out-');
    const root = buildTree(tempDir('fs-access-'), { x: {}, y: {}, l: symlink(outside) });
    const top = track(OpenFolder.openRoot(root));
    const listed = top.list().entries;
    const x = listed.find((e) => e.name === 'x');
    expect(() => top.openChild('l')).toThrow(EntryChangedError);
    // x and y exchanged after the listing: opening "x" finds y's inode.
    unpinWorkingFolder();
    renameSync(join(root, 'x'), join(root, 'tmp'));
    renameSync(join(root, 'y'), join(root, 'x'));
    renameSync(join(root, 'tmp'), join(root, 'y'));
    expect(() => top.openChild('x', x)).toThrow(EntryChangedError);
  });

  it('openFile refuses a link, a folder, or another file in place of the listed one, and never blocks', () => {
    setAccessMode(mode);
    const root = buildTree(tempDir('fs-access-'), { f: 'f', g: 'g', l: symlink('/etc/passwd'), d: {} });
    const top = track(OpenFolder.openRoot(root));
    const listed = top.list().entries;
    expect(() => top.openFile('l')).toThrow(EntryChangedError);
    expect(() => top.openFile('d')).toThrow(EntryChangedError);
    expect(() =>
      top.openFile(
        'g',
        listed.find((e) => e.name === 'f'),
      ),
    ).toThrow(EntryChangedError);
    expect(() => top.setFileMeta('l', undefined, { mode: 0o777 })).toThrow(EntryChangedError);
    expect(() =>
      top.setFileMeta(
        'g',
        listed.find((e) => e.name === 'f'),
        { mode: 0o777 },
      ),
    ).toThrow(EntryChangedError);
  });

  it('gives the working folder back exactly (CLI), or never moves it (API)', () => {
    setAccessMode(mode);
    const root = buildTree(tempDir('fs-access-'), { a: 'a' });
    const top = track(OpenFolder.openRoot(root));
    expect(top.list().entries.map((e) => e.name)).toEqual(['a']);
    expect(process.cwd()).toBe(caller === 'CLI' ? root : startCwd);
    unpinWorkingFolder();
    expect(process.cwd()).toBe(startCwd);
    top.close();
    expect(process.cwd()).toBe(startCwd);
  });
});

it('fd mode: a folder moved away after opening is still listed and written by its handle (the old path is a link now)', () => {
  if (process.platform !== 'linux') return;
  setAccessMode('fd');
  const secret = buildTree(tempDir('fs-access-secret-'), { s: 'secret' });
  const root = buildTree(tempDir('fs-access-'), { d: { mine: 'mine' } });
  const top = track(OpenFolder.openRoot(root));
  const d = track(top.openChild('d'));
  unpinWorkingFolder();
  renameSync(join(root, 'd'), join(root, 'elsewhere'));
  symlinkSync(secret, join(root, 'd'));
  expect(d.list().entries.map((e) => e.name)).toEqual(['mine']);
  expect(lstatSync(join(root, 'd')).isSymbolicLink()).toBe(true);
});

describe('timeArg: times that land in exactly the millisecond asked for', () => {
  const cases = [0, 1, 999, -1, -1000, -1001, -86_400_000 * 365 * 80 - 7, 1_700_000_000_123, 4_102_444_800_001, 7_258_118_400_999, 7_258_118_400_001];
  for (const ms of cases) {
    it(`${ms} ms (${new Date(ms).toISOString()})`, () => {
      const arg = timeArg(ms);
      expect(landsInMs(Number(arg))).toBe(ms);
      if (ms < 0) expect(typeof arg).toBe('string'); // Node would turn a negative number into "now"
    });
  }

  it('on a real file: pre-1970 and year 2200, read back to the millisecond', () => {
    const root = buildTree(tempDir('fs-access-'), { t: 't' });
    const top = track(OpenFolder.openRoot(root));
    mkdirSync(join(root, 'sub'));
    const sub = track(top.openChild('sub'));
    for (const ms of [-1_234_567_890_123, 7_258_118_400_999]) {
      sub.setTimes(ms, ms);
      const ns = statSync(join(root, 'sub'), { bigint: true }).mtimeNs;
      expect(Number((ns - (((ns % 1_000_000n) + 1_000_000n) % 1_000_000n)) / 1_000_000n)).toBe(ms);
    }
  });
});
