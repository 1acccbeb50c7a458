/** `list` says once what a job's replica does not keep: the last pass's start-line sentence, kept in its record. */
import { describe, expect, it } from 'vitest';
import { readJobRecord } from '../src/schedule/record.js';
import { runScheduled, type ScheduledRun } from '../src/schedule/scheduled-run.js';
import { formatList, type JobStatus } from '../src/schedule/status.js';
import type { SyncResult } from '../src/sync/sync-once.js';
import { tempDir } from './_tree.js';

const EXFAT =
  "the replica's file system (exfat) does not keep permission bits or symbolic links, keeps modification times to 1 s, compares names without case";

function result(over: Partial<SyncResult> = {}): SyncResult {
  return { checked: 3, created: 1, updated: 0, removed: 0, failed: 0, skipped: 1, bytes: 5, durationMs: 10, exitCode: 0, ...over };
}

describe('list: what the replica does not keep', () => {
  const run: ScheduledRun = { job: 'usb', rule: { every: 900 }, logFormat: 'text' };
  const deps = (dir: string): { now: () => number; sleep: (ms: number) => Promise<void>; dir: string } => ({
    now: () => Date.UTC(2026, 0, 5, 10, 0, 0),
    sleep: async () => undefined,
    dir,
  });

  it('a scheduled pass records the sentence; none on an ext4-like replica', async () => {
    const dir = tempDir();
    await runScheduled(run, async (hooks) => (hooks.finished(result({ replicaFs: EXFAT })), 0), deps(dir));
    expect(readJobRecord('usb', dir).last?.replicaFs).toBe(EXFAT);
    const plain = tempDir();
    await runScheduled(run, async (hooks) => (hooks.finished(result()), 0), deps(plain));
    expect(readJobRecord('usb', plain).last).not.toHaveProperty('replicaFs');
  });

  it('list shows it once per job, from the last pass that ran', () => {
    const job = (replicaFs?: string): JobStatus => ({
      name: 'usb',
      backend: 'crontab',
      timing: '*/15 * * * *',
      interval: 'every 15 minutes',
      warnings: [],
      lastPass: { startedAt: '2026-01-05T10:00:00.000Z', result: 'ok', pid: 1, ...(replicaFs ? { replicaFs } : {}) },
    });
    const text = formatList({ jobs: [job(EXFAT)], foreground: [], warnings: [] });
    expect(text.split('\n').filter((l) => l.includes('file system:'))).toEqual([`  file system:    ${EXFAT}`]);
    expect(formatList({ jobs: [job()], foreground: [], warnings: [] })).not.toContain('file system:');
  });
});
