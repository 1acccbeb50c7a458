/**
 * The last-pass record of a foreground `run`, in the per-user state folder (`<state>/runs/<replica key>.json`),
 * in the same PassRecord shape as a scheduled job's record, so `list` can show a run's interval and last pass
 * beside its lock. Written atomically (temp file + rename) after every pass; kept after the run stops.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PassRecord } from '../schedule/record.js';
import { replicaKey, stateDir } from '../state.js';

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
  try {
    const data = JSON.parse(readFileSync(runRecordPath(replicaRealPath, dir), 'utf8')) as RunRecord | null;
    return data && typeof data === 'object' && data.version === 1 ? data : undefined;
  } catch {
    return undefined;
  }
}

export function writeRunRecord(record: RunRecord, dir = stateDir()): void {
  const path = runRecordPath(record.replica, dir);
  mkdirSync(join(dir, 'runs'), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  renameSync(temp, path);
}
