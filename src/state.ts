import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * The per-user folder for locks, last-pass records and generated wrappers; never inside a source or replica.
 * FOLDER_SYNC_STATE_DIR overrides it (tests, unusual setups); otherwise XDG_STATE_HOME or ~/.local/state on
 * Linux and macOS, %LOCALAPPDATA% on Windows.
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env['FOLDER_SYNC_STATE_DIR']) return env['FOLDER_SYNC_STATE_DIR'];
  if (platform === 'win32') {
    const base = env['LOCALAPPDATA'] || join(env['USERPROFILE'] || homedir(), 'AppData', 'Local');
    return join(base, 'folder-sync');
  }
  const base = env['XDG_STATE_HOME'] || join(env['HOME'] || homedir(), '.local', 'state');
  return join(base, 'folder-sync');
}

/** A stable file-name key for a replica's absolute real path. */
export function replicaKey(replicaRealPath: string): string {
  return createHash('sha256').update(replicaRealPath).digest('hex').slice(0, 24);
}

/**
 * Write a JSON record in the state folder atomically (a temp file beside it, then rename): a reader (`list`, the
 * due-check of the next firing) sees the old record or the new one, never half of one. Private to the user.
 * Used by the last-pass records of scheduled jobs (schedule/record.ts) and of foreground runs (run/record.ts).
 */
export function writeRecordFile(path: string, record: object): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true }); // a full disk must not leave a half-written temp file behind
    throw error;
  }
}

/** A JSON record of version 1, or undefined when it is missing, unreadable or of another shape. */
export function readRecordFile<T extends { version: 1 }>(path: string): T | undefined {
  try {
    const data = JSON.parse(readFileSync(path, 'utf8')) as T | null;
    return data && typeof data === 'object' && data.version === 1 ? data : undefined;
  } catch {
    return undefined;
  }
}
