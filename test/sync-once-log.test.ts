/** End-to-end: what a pass writes to its log file (text and JSON Lines) and to the console. */
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './_cli.js';
import { buildTree, dir, fifo, file, msToTimeSpec, symlink, tempDir } from './_tree.js';

const TS = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`;
/** `<ISO-8601> <LEVEL> <action> <kind> <quoted path>[ (note)]` */
const OP_LINE = new RegExp(String.raw`^(${TS}) (INFO) (created|updated|removed) (file|dir|symlink) ("(?:[^"\\]|\\.)*")(?: \((.*)\))?$`);
const ANY_LINE = new RegExp(String.raw`^${TS} (INFO|WARN|ERROR) \S`);

/** A name built to look like a log line of its own if a newline were written raw. */
const FORGER = 'x"\n2030-01-01T00:00:00.000Z INFO removed file "important.txt';

function lines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').slice(0, -1);
}

function scenario(): { src: string; dst: string; log: string } {
  const src = buildTree(tempDir(), {
    'plain.txt': 'hello',
    [FORGER]: 'forged?',
    'quote"d': 'q',
    'sep\u2028arator': 'u2028',
    d: dir({ inner: file('12345678') }),
    link: symlink('plain.txt'),
    pipe: fifo(),
  });
  const dst = buildTree(tempDir(), { extra: 'e', 'plain.txt': 'old' });
  // A fixed source root mtime, so the replica root always gets its metadata fix (not only when the clock ticked).
  utimesSync(src, msToTimeSpec(1_500_000_000_000), msToTimeSpec(1_500_000_000_000));
  return { src, dst, log: join(tempDir(), 'nested', 'dirs', 'pass.log') };
}

describe('log file, text format', () => {
  it('one line per event; start and summary; names quoted so no line can be forged', async () => {
    const { src, dst, log } = scenario();
    const r = await runCli(['sync-once', src, dst, '--log', log]);
    expect(r.code, r.stderr).toBe(0);
    const all = lines(log);
    for (const line of all) expect(line).toMatch(ANY_LINE);
    expect(all[0]).toMatch(new RegExp(`^${TS} INFO pass started: source ${JSON.stringify(src)} replica ${JSON.stringify(dst)} mode quick$`));
    expect(all.at(-1)).toMatch(
      new RegExp(`^${TS} INFO pass finished: created 6, updated 2, removed 1, failed 0, skipped 1, bytes \\d+, duration \\d+\\.\\d{3}s$`),
    );
    const ops = all
      .filter((l) => OP_LINE.test(l))
      .map((l) => {
        const m = OP_LINE.exec(l) as RegExpExecArray;
        return { action: m[3], kind: m[4], path: JSON.parse(m[5] as string) as string, note: m[6] };
      });
    // The paths decode back to the real names, newline and all; nothing else looks like an operation.
    expect(ops.map((o) => `${o.action} ${o.kind} ${o.path}`).sort()).toEqual(
      [
        'created dir d',
        'created file d/inner',
        `created file ${FORGER}`,
        'created file quote"d',
        'created file sep\u2028arator',
        'created symlink link',
        'updated file plain.txt',
        'updated dir .',
        'removed file extra',
      ].sort(),
    );
    expect(all.some((l) => l.startsWith('2030-01-01'))).toBe(false);
    expect(all.filter((l) => l.includes('important.txt'))).toHaveLength(1);
    // U+2028 is escaped in the text file too (some readers break lines on it).
    expect(readFileSync(log, 'utf8')).not.toContain('\u2028');
    // The FIFO is a warning naming it; the replica's root mtime fix is a metadata note.
    expect(all).toContainEqual(expect.stringMatching(new RegExp(`^${TS} WARN skipped fifo "pipe": not a regular file`)));
    expect(ops.find((o) => o.path === '.')?.note).toMatch(/^metadata: /);
  });

  it('appends: a second pass adds its lines after the first', async () => {
    const { src, dst, log } = scenario();
    await runCli(['sync-once', src, dst, '--log', log]);
    const first = lines(log);
    writeFileSync(join(src, 'later.txt'), 'later');
    await runCli(['sync-once', src, dst, '--log', log]);
    const both = lines(log);
    expect(both.slice(0, first.length)).toEqual(first);
    expect(
      both
        .slice(first.length)
        .filter((l) => OP_LINE.test(l))
        .map((l) => l.replace(/^\S+ /, '')),
    ).toEqual(['INFO created file "later.txt"', 'INFO updated dir "." (metadata: mtime)']);
  });
});

describe('log file, JSON Lines', () => {
  it('one object per event with time, level, action, kind, path and size; console stays text', async () => {
    const { src, dst, log } = scenario();
    const r = await runCli(['sync-once', src, dst, '--log', log, '--log-format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^created file "plain.txt"|^updated file "plain.txt"/m);
    const records = lines(log).map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const rec of records) {
      expect(typeof rec['time']).toBe('string');
      expect(new Date(rec['time'] as string).toISOString()).toBe(rec['time']);
      expect(['info', 'warn', 'error']).toContain(rec['level']);
    }
    expect(records[0]).toMatchObject({ type: 'start', source: src, replica: dst, mode: 'quick', dryRun: false });
    expect(records.at(-1)).toMatchObject({ type: 'summary', created: 6, updated: 2, removed: 1, failed: 0, skipped: 1 });
    const ops = records.filter((rec) => rec['type'] === 'op');
    expect(ops).toContainEqual(expect.objectContaining({ level: 'info', action: 'created', kind: 'file', path: FORGER, size: 7 }));
    expect(ops).toContainEqual(expect.objectContaining({ action: 'created', kind: 'file', path: 'd/inner', size: 8 }));
    expect(ops).toContainEqual(expect.objectContaining({ action: 'updated', kind: 'file', path: 'plain.txt', size: 5 }));
    expect(ops).toContainEqual(expect.objectContaining({ action: 'removed', kind: 'file', path: 'extra' }));
    expect(ops).toContainEqual(expect.objectContaining({ action: 'created', kind: 'symlink', path: 'link' }));
    expect(records).toContainEqual(expect.objectContaining({ level: 'warn', type: 'skipped', kind: 'fifo', path: 'pipe' }));
  });

  it('a dry run is marked in every operation record', async () => {
    const { src, dst, log } = scenario();
    const r = await runCli(['sync-once', src, dst, '--log', log, '--log-format', 'json', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    const records = lines(log).map((l) => JSON.parse(l) as Record<string, unknown>);
    const ops = records.filter((rec) => rec['type'] === 'op');
    expect(ops.length).toBeGreaterThan(0);
    for (const op of ops) expect(op['dryRun']).toBe(true);
    expect(records[0]).toMatchObject({ type: 'start', dryRun: true });
  });
});

describe('console', () => {
  it('--quiet keeps the console to warnings and errors; the file still gets everything', async () => {
    const { src, dst, log } = scenario();
    const r = await runCli(['sync-once', src, dst, '--log', log, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('warning: skipped fifo "pipe": not a regular file, folder or symlink\n');
    const all = lines(log);
    expect(all.filter((l) => OP_LINE.test(l))).toHaveLength(9);
    expect(all.at(-1)).toMatch(/pass finished/);
  });

  it('without --quiet every operation is one console line', async () => {
    const { src, dst } = scenario();
    const r = await runCli(['sync-once', src, dst]);
    const ops = r.stdout.split('\n').filter((l) => /^(created|updated|removed) /.test(l));
    expect(ops).toHaveLength(9);
    expect(ops).toContain(`created file ${JSON.stringify(FORGER)}`);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('2030-'))).toEqual([]);
  });
});
