/**
 * The last-pass record of a foreground `run`, in the per-user state folder (`<state>/runs/<replica key>.json`),
 * in the same PassRecord shape as a scheduled job's record, so `list` can show a run's interval and last pass
 * beside its lock. Written atomically (state.ts writeRecordFile) after every pass; kept after the run stops.
 */
import { join } from 'node:path';
import type { PassRecord } from '../schedule/record.js';
import { readRecordFile, replicaKey, stateDir, writeRecordFile } from '../state.js';

export interface RunRecord {
  version: 1;
  pid: number;
  /** When the run started (its lock has the same time). */
  startedAt: string;
  source: string;
  replica: string;
  log?: string;
  everySeconds: number;
  /** "every 15 minutes". */
  every: string;
  passes: number;
  last?: PassRecord;
  /** The last pass that ran through (ok or partial). */
  lastCompleted?: PassRecord;
}

export function runRecordPath(replicaRealPath: string, dir = stateDir()): string {
  return join(dir, 'runs', `${replicaKey(replicaRealPath)}.json`);
}

/** The record of the last run on this replica, or undefined when there is none or it cannot be read. */
export function readRunRecord(replicaRealPath: string, dir = stateDir()): RunRecord | undefined {
  return readRecordFile<RunRecord>(runRecordPath(replicaRealPath, dir));
}

export function writeRunRecord(record: RunRecord, dir = stateDir()): void {
  writeRecordFile(runRecordPath(record.replica, dir), record);
}
