// The one way sync-once, run and scheduled runs open a pass's log file and write a refusal into it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BusyError, RefusedError } from '../src/errors.js';
import { logRefusal, openPassLog, refusalLine } from '../src/pass-log.js';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fs-passlog-'));
  dirs.push(d);
  return d;
}
function captureStderr(): string[] {
  const lines: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  return lines;
}

describe('openPassLog', () => {
  it('opens for appending, creating parent folders', () => {
    const path = join(tempDir(), 'a', 'b', 'pass.log');
    const file = openPassLog(path, 'text');
    logRefusal(file, 'pass refused: test');
    file.close();
    expect(readFileSync(path, 'utf8')).toMatch(/^\S+Z ERROR pass refused: test\n$/);
  });

  it('refuses (exit 2) with the path and the reason when the file cannot be opened', () => {
    const path = tempDir(); // a folder
    expect(() => openPassLog(path, 'text')).toThrow(RefusedError);
    expect(() => openPassLog(path, 'text')).toThrow(`log file cannot be opened for appending: ${path}: `);
  });
});

describe('refusalLine', () => {
  it('a busy replica skips the pass; anything else refuses it', () => {
    expect(refusalLine(new BusyError('another pass is running'))).toBe('pass skipped: another pass is running');
    expect(refusalLine(new RefusedError('source folder does not exist: /gone'))).toBe('pass refused: source folder does not exist: /gone');
  });
});

describe('logRefusal before the log was opened (a scheduled pass)', () => {
  it('opens the file for the one line, in the job log format', () => {
    const dir = tempDir();
    logRefusal({ path: join(dir, 'text.log'), format: 'text' }, 'pass refused: x');
    logRefusal({ path: join(dir, 'json.log'), format: 'json' }, 'pass refused: y');
    expect(readFileSync(join(dir, 'text.log'), 'utf8')).toMatch(/^\S+Z ERROR pass refused: x\n$/);
    const record = JSON.parse(readFileSync(join(dir, 'json.log'), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({ level: 'error', type: 'message', message: 'pass refused: y' });
  });

  it('writes the line to stderr when there is no log file, or it cannot be opened', () => {
    const stderr = captureStderr();
    const dir = tempDir();
    logRefusal({ path: undefined, format: 'text' }, 'pass refused: a');
    logRefusal({ path: dir, format: 'text' }, 'pass refused: b'); // a folder, not a file
    expect(stderr).toEqual(['error: pass refused: a\n', 'error: pass refused: b\n']);
  });
});
