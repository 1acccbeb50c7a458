// The one writer of the state folder's JSON records (scheduled jobs' and foreground runs' last passes).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readRunRecord, writeRunRecord, type RunRecord } from '../src/run/record.js';
import { readJobRecord, writeJobRecord } from '../src/schedule/record.js';
import { readRecordFile, writeRecordFile } from '../src/state.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fs-state-'));
  dirs.push(d);
  return d;
}

describe('writeRecordFile / readRecordFile', () => {
  it('writes the record private to the user, in a folder it creates, and leaves no temp file', () => {
    const dir = tempDir();
    const path = join(dir, 'jobs', 'a.json');
    writeRecordFile(path, { version: 1, n: 1 });
    writeRecordFile(path, { version: 1, n: 2 });
    expect(readRecordFile<{ version: 1; n: number }>(path)).toEqual({ version: 1, n: 2 });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'jobs')).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(dir, 'jobs'))).toEqual(['a.json']);
  });

  it('a write that fails leaves the old state and no temp file, and throws', () => {
    const dir = tempDir();
    const path = join(dir, 'r.json');
    mkdirSync(path); // rename over a folder fails
    writeFileSync(join(path, 'keep'), 'x');
    expect(() => writeRecordFile(path, { version: 1 })).toThrow();
    expect(readdirSync(dir)).toEqual(['r.json']);
    expect(readFileSync(join(path, 'keep'), 'utf8')).toBe('x');
  });

  it('reads a missing, broken or foreign record as undefined', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'broken.json'), '{"version": 1,');
    writeFileSync(join(dir, 'v2.json'), '{"version": 2}');
    writeFileSync(join(dir, 'null.json'), 'null');
    for (const name of ['missing.json', 'broken.json', 'v2.json', 'null.json']) expect(readRecordFile(join(dir, name)), name).toBeUndefined();
  });

  it('scheduled jobs and foreground runs both keep their records through it', () => {
    const dir = tempDir();
    writeJobRecord({ version: 1, name: 'job-1', source: '/s', replica: '/r' }, dir);
    const run: RunRecord = {
      version: 1,
      pid: 1,
      startedAt: '2026-01-01T00:00:00.000Z',
      source: '/s',
      replica: '/r',
      everySeconds: 60,
      every: 'every minute',
      passes: 0,
    };
    writeRunRecord(run, dir);
    expect(readJobRecord('job-1', dir)).toEqual({ version: 1, name: 'job-1', source: '/s', replica: '/r' });
    expect(readRunRecord('/r', dir)).toEqual(run);
    expect(readdirSync(join(dir, 'jobs'))).toEqual(['job-1.json']);
    expect(readdirSync(join(dir, 'runs'))).toHaveLength(1);
  });
});
