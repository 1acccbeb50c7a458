import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBytes, formatProgress, progressDelay, ProgressLine, type ProgressStream } from '../src/progress.js';
import type { SyncStats } from '../src/sync/pass-stats.js';
import { repoCli } from './_cli.js';

const stats = (over: Partial<SyncStats> = {}): SyncStats => ({
  checked: 0,
  created: 0,
  updated: 0,
  removed: 0,
  failed: 0,
  skipped: 0,
  bytes: 0,
  ...over,
});

describe('formatBytes', () => {
  const cases: [number, string][] = [
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [64 * 1024 * 1024 + 300 * 1024, '64.3 MiB'],
    [3 * 1024 ** 3, '3.0 GiB'],
    [5 * 1024 ** 5, '5120.0 TiB'],
  ];
  for (const [n, text] of cases) it(`${n} -> ${text}`, () => expect(formatBytes(n)).toBe(text));
});

describe('formatProgress', () => {
  it('shows entries checked, operations, bytes copied and the rates', () => {
    const text = formatProgress(stats({ checked: 12345, created: 1200, updated: 3, removed: 7, bytes: 10 * 1024 * 1024 }), 2000);
    expect(text).toBe('folder-sync: 12,345 checked, 1,200 created, 3 updated, 7 removed; 10.0 MiB copied (5.0 MiB/s, 6,173 entries/s), 2.0 s');
  });
  it('names failures only when there are some', () => {
    expect(formatProgress(stats({ failed: 2 }), 1000)).toContain('2 failed');
    expect(formatProgress(stats(), 1000)).not.toContain('failed');
  });
});

/** A fake terminal stream and clock. */
function fakeTerminal(columns = 200): { stream: ProgressStream; out: string[]; clock: { t: number } } {
  const out: string[] = [];
  return { stream: { isTTY: true, columns, write: (s: string) => out.push(s) }, out, clock: { t: 0 } };
}

describe('ProgressLine', () => {
  it('draws nothing during the first second, then redraws in place', () => {
    const { stream, out, clock } = fakeTerminal();
    const line = new ProgressLine(stream, 1000, () => clock.t);
    clock.t = 999;
    line.update(stats({ checked: 5 }));
    expect(out).toEqual([]);
    clock.t = 1000;
    line.update(stats({ checked: 6 }));
    clock.t = 1100;
    line.update(stats({ checked: 7 }));
    expect(out).toHaveLength(2);
    for (const s of out) expect(s).toMatch(/^\rfolder-sync: \d+ checked, .*\x1b\[K$/);
    expect(out[1]).toContain('7 checked');
  });

  it('interrupt() erases before another line and redraws the same text right after it', async () => {
    const { stream, out, clock } = fakeTerminal();
    const line = new ProgressLine(stream, 0, () => clock.t);
    line.update(stats({ checked: 3 }));
    const drawn = out[0];
    line.interrupt();
    line.interrupt(); // two lines in a row: one erase each, one redraw
    expect(out.slice(1)).toEqual(['\r\x1b[K']);
    await Promise.resolve();
    expect(out.slice(2)).toEqual([drawn]);
  });

  it('clear() erases for good; nothing is written when nothing was drawn', async () => {
    const { stream, out, clock } = fakeTerminal();
    const line = new ProgressLine(stream, 1000, () => clock.t);
    line.clear();
    line.interrupt();
    expect(out).toEqual([]);
    clock.t = 5000;
    line.update(stats());
    line.interrupt();
    line.clear();
    await Promise.resolve();
    expect(out.at(-1)).toBe('\r\x1b[K');
    expect(out.filter((s) => s.includes('checked'))).toHaveLength(1);
  });

  it('never wraps: the text is cut one column short of the terminal width', () => {
    const { stream, out, clock } = fakeTerminal(40);
    const line = new ProgressLine(stream, 0, () => clock.t);
    line.update(stats({ checked: 123456789 }));
    const text = (out[0] ?? '').replace('\r', '').replace('\x1b[K', '');
    expect([...text]).toHaveLength(39);
    expect(text.endsWith('…')).toBe(true);
  });
});

describe('progressDelay (FOLDER_SYNC_PROGRESS_DELAY_MS)', () => {
  const cases: [string | undefined, number][] = [
    [undefined, 1000],
    ['', 1000],
    ['0', 0],
    ['250', 250],
    ['-1', 1000],
    ['soon', 1000],
  ];
  for (const [value, ms] of cases) it(`${JSON.stringify(value)} -> ${ms}`, () => expect(progressDelay(value)).toBe(ms));
});

/** What a terminal shows for this output: rows after carriage returns, erase-to-end and overwrites. */
function renderTerminal(output: string): string[] {
  return output.split('\n').map((raw) => {
    let row: string[] = [];
    let col = 0;
    for (let i = 0; i < raw.length;) {
      if (raw.startsWith('\x1b[K', i)) {
        row = row.slice(0, col);
        i += 3;
      } else if (raw[i] === '\r') {
        col = 0;
        i++;
      } else {
        const ch = String.fromCodePoint(raw.codePointAt(i) ?? 0);
        row[col++] = ch;
        i += ch.length;
      }
    }
    return row.join('');
  });
}

describe('the progress line of sync-once (real pseudo-terminal)', () => {
  let base = '';
  const state = () => join(base, 'state');

  /** Run a shell command line inside a pseudo-terminal (util-linux `script`); returns what the terminal got. */
  function inTerminal(command: string, env: Record<string, string> = {}): string {
    // A known width: the line is cut one column short of it.
    const r = spawnSync('script', ['-qfec', `stty cols 200; ${command}`, '/dev/null'], {
      cwd: base,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', TERM: 'xterm', FOLDER_SYNC_STATE_DIR: state(), ...env },
      maxBuffer: 256 * 1024 * 1024,
      timeout: 120_000,
    });
    if (r.error) throw new Error(`cannot run "script" (Debian package bsdutils): ${r.error.message}`);
    expect(r.status, r.stdout).toBe(0);
    return r.stdout;
  }
  const sync = (source: string, replica: string, extra = ''): string =>
    `${JSON.stringify(process.execPath)} ${JSON.stringify(repoCli)} sync-once ${source} ${replica} --log ${replica}.log ${extra}`;
  // Deterministic triggers, whatever the machine's speed: the engine hands its totals to the line at every
  // folder and every change (EVERY 0), and the line shows at once where it is allowed (DELAY 0). The cases after
  // the first run a no-change pass over the same tree (cheap to run and to clean up).
  const now = { FOLDER_SYNC_PROGRESS_DELAY_MS: '0', FOLDER_SYNC_PROGRESS_EVERY_MS: '0' };

  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'fs-progress-'));
    mkdirSync(state());
    // About 24,000 entries, in 120 folders: many console lines for the line to be erased before.
    const tree = (name: string, dirs: number, files: number): void => {
      for (let d = 0; d < dirs; d++) {
        mkdirSync(join(base, name, `d${d}`), { recursive: true });
        for (let f = 0; f < files; f++) writeFileSync(join(base, name, `d${d}`, `f${f}.txt`), 'x'.repeat(f));
      }
    };
    tree('src', 120, 200);
    mkdirSync(join(base, 'small'));
    writeFileSync(join(base, 'small', 'one.txt'), 'one');
  });
  // Some 50,000 entries: removing them can take a while when the machine is busy.
  afterAll(() => rmSync(base, { recursive: true, force: true }), 300_000);

  it('is drawn on an interactive stderr, erased before each console line and at the end, and never logged', () => {
    const out = inTerminal(sync('src', 'tty'), now);
    expect(out).toMatch(/\rfolder-sync: [\d,]+ checked, [\d,]+ created, .* copied \(.*\/s, [\d,]+ entries\/s\), [\d.]+ s\x1b\[K/);
    const rows = renderTerminal(out);
    // What the person sees: the pass's own lines, intact, and no leftover progress text anywhere.
    expect(rows.filter((r) => r.includes('entries/s'))).toEqual([]);
    expect(rows.filter((r) => r.startsWith('created file ')).length).toBe(24000);
    for (const r of rows) expect(r).toMatch(/^(|created (file|dir) ".*"|pass started: .*|pass finished: .*)$/);
    expect(rows.at(-1)).toBe('');
    const log = readFileSync(join(base, 'tty.log'), 'utf8');
    expect(log).not.toMatch(/entries\/s|\r|\x1b/);
    expect(log).toMatch(/pass finished: created 24121,/);
  });

  it('shows at once on a no-change pass when stderr is a terminal (the control for the two cases below)', () => {
    const out = inTerminal(sync('src', 'tty', '>/dev/null'), now);
    expect(out).toMatch(/\rfolder-sync: [\d,]+ checked/);
  });

  it('is absent when stderr is not a terminal (a pipe or a file)', () => {
    const out = inTerminal(`${sync('src', 'tty')} 2>piped.err | cat`, now);
    expect(out).not.toMatch(/entries\/s|\x1b\[/);
    expect(out).toMatch(/pass finished: /);
    expect(readFileSync(join(base, 'piped.err'), 'utf8')).toBe('');
  });

  it('is absent with --quiet', () => {
    const out = inTerminal(sync('src', 'tty', '--quiet'), now);
    expect(out).toBe('');
    // Four passes with and without the line on the terminal: none of it reached the log.
    expect(readFileSync(join(base, 'tty.log'), 'utf8')).not.toMatch(/entries\/s|\r|\x1b/);
  });

  it('is absent on a pass shorter than a second', () => {
    // The engine reports at every step (so the line is asked for), and the pass ends long before the delay
    // (an hour here, so no stall of a busy machine can reach it; the default second is unit-tested above).
    const quick = { FOLDER_SYNC_PROGRESS_EVERY_MS: '0', FOLDER_SYNC_PROGRESS_DELAY_MS: '3600000' };
    const out = inTerminal(`${JSON.stringify(process.execPath)} ${JSON.stringify(repoCli)} sync-once small small-copy`, quick);
    expect(out).not.toMatch(/entries\/s|\x1b\[/);
    expect(out).toMatch(/pass finished: created 2,/);
  });
});
