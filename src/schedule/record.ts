/**
 * The last-pass record of a scheduled job, in the per-user state folder (`<state>/jobs/<name>.json`): the
 * due-check reads it, `list` shows it. Written atomically (state.ts writeRecordFile), never inside a source or replica.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { readRecordFile, stateDir, writeRecordFile } from '../state.js';
import type { SyncStats } from '../sync/pass-stats.js';

export type PassResult = 'running' | 'ok' | 'partial' | 'refused' | 'busy' | 'log-failed' | 'error';

export type PassCounts = Pick<SyncStats, 'created' | 'updated' | 'removed' | 'failed' | 'skipped' | 'bytes'>;

export interface PassRecord {
  startedAt: string;
  finishedAt?: string;
  result: PassResult;
  exitCode?: number;
  pid: number;
  counts?: PassCounts;
  durationMs?: number;
  /** The refusal or error line, when there was one. */
  message?: string;
  /** What the replica's file system does not keep, as the pass's start line said it (none on ext4-like replicas). */
  replicaFs?: string;
}

export interface JobRecord {
  version: 1;
  name: string;
  /** When `schedule` installed the job (the overdue clock starts there). */
  scheduledAt?: string;
  source?: string;
  replica?: string;
  /** The last pass attempted, whatever its result (the due-check counts from its start). */
  last?: PassRecord;
  /** The last pass that completed (ok or partial). */
  lastCompleted?: PassRecord;
  /** The last pass that ended with exit 0 (`folder-sync check`). */
  lastSuccess?: PassRecord;
  /** The last notification sent for a pass (src/notify): when, whether all of it worked, what happened. */
  lastNotification?: { at: string; ok: boolean; detail: string };
}

export function recordPath(name: string, dir = stateDir()): string {
  return join(dir, 'jobs', `${name}.json`);
}

/** The record, or a fresh one when there is none or it cannot be read (a broken record must not stop passes). */
export function readJobRecord(name: string, dir = stateDir()): JobRecord {
  const data = readRecordFile<JobRecord>(recordPath(name, dir));
  return data ? { ...data, name } : { version: 1, name };
}

export function writeJobRecord(record: JobRecord, dir = stateDir()): void {
  writeRecordFile(recordPath(record.name, dir), record);
}

/** When a pass started, in ms (undefined: no pass yet). */
export function startedAtMs(pass: PassRecord | undefined): number | undefined {
  return pass ? Date.parse(pass.startedAt) : undefined;
}

export function removeJobRecord(name: string, dir = stateDir()): void {
  rmSync(recordPath(name, dir), { force: true });
  rmSync(join(dir, 'jobs', `${name}.notify.json`), { force: true }); // its notification settings (src/notify/settings.ts)
}
