import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';

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
