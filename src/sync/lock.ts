import { closeSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { BusyError, describeError, FolderSyncError, RefusedError } from '../errors.js';
import { replicaKey, stateDir } from '../state.js';

export interface LockRecord {
  pid: number;
  host: string;
  replica: string;
  startedAt: string;
  /** Linux: the holder's start time in clock ticks since boot, so a recycled pid is not mistaken for it. */
  procStart?: string;
  /** 'sync-once' (a pass, manual or scheduled) or 'run' (a foreground loop holding it for its life). */
  mode?: string;
  /** Optional, for `list`: what the holder mirrors from and logs to. */
  source?: string;
  log?: string;
}

/** Extra fields a holder may record for `list` (a foreground run names its source and log). */
export type LockInfo = Pick<LockRecord, 'source' | 'log'>;

/** The start time of a process from /proc (Linux), or undefined elsewhere. */
function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the ")" that closes the command name (which may itself hold spaces).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

/** Whether the holder named by a lock record is still running (same host: by pid and start time). */
export function isLockAlive(record: LockRecord): boolean {
  if (record.host !== hostname()) return true; // cannot check another machine's processes: trust it
  try {
    process.kill(record.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (record.procStart !== undefined) {
    const now = procStartTime(record.pid);
    if (now !== undefined && now !== record.procStart) return false; // the pid was recycled
  }
  return true;
}

export function lockPath(replicaRealPath: string, dir = stateDir()): string {
  return join(dir, 'locks', `${replicaKey(replicaRealPath)}.lock`);
}

/** Read a lock file; undefined when there is none, it is unreadable, or it does not name a holder. */
export function readLock(path: string): LockRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as LockRecord | null;
    // A record without a usable pid (torn, hand-edited) must count as debris, never as a live holder:
    // process.kill(undefined | 0, 0) would throw a non-ESRCH error or signal our own group and look alive.
    if (!record || typeof record !== 'object' || !Number.isSafeInteger(record.pid) || record.pid <= 0) return undefined;
    if (typeof record.host !== 'string') return undefined;
    return record;
  } catch {
    return undefined;
  }
}

/** True when a live process holds the lock of this replica. */
export function isLocked(replicaRealPath: string, dir = stateDir()): LockRecord | undefined {
  const record = readLock(lockPath(replicaRealPath, dir));
  return record && isLockAlive(record) ? record : undefined;
}

/**
 * One pass (or one `run` loop) per replica. The lock is a file created with O_EXCL in the state folder that
 * names its holder; a lock whose holder is dead (kill -9, power loss) is taken over at once.
 */
export class ReplicaLock {
  private held = false;
  readonly path: string;

  constructor(
    readonly replica: string,
    readonly mode = 'sync-once',
    dir = stateDir(),
    private readonly info: LockInfo = {},
  ) {
    this.path = lockPath(replica, dir);
  }

  /** Take the lock: BusyError (exit 75) when a live process holds it, RefusedError (exit 2) when it cannot be written. */
  acquire(): void {
    try {
      this.tryAcquire();
    } catch (error) {
      if (error instanceof FolderSyncError) throw error;
      // A full or read-only state folder: one clear line, not an "unexpected error" (found by the fault suite).
      throw new RefusedError(`cannot take the replica's lock ${this.path}: ${describeError(error)}; nothing was changed`);
    }
  }

  private tryAcquire(): void {
    mkdirSync(join(this.path, '..'), { recursive: true, mode: 0o700 });
    const record: LockRecord = {
      pid: process.pid,
      host: hostname(),
      replica: this.replica,
      startedAt: new Date().toISOString(),
      procStart: procStartTime(process.pid),
      mode: this.mode,
      ...this.info,
    };
    for (let attempt = 0; attempt < 50; attempt++) {
      if (this.create(JSON.stringify(record))) {
        this.held = true;
        return;
      }
      const holder = readLock(this.path);
      if (holder && isLockAlive(holder)) {
        throw new BusyError(`another pass is running on ${this.replica} (pid ${holder.pid}, since ${holder.startedAt})`);
      }
      this.removeStale();
    }
    // Another process kept winning the race for the file: it is taking or handing over the lock right now.
    throw new BusyError(`another pass is running on ${this.replica} (its lock is changing hands: ${this.path})`);
  }

  /**
   * Create the lock file with its record in one step: write a private draft, then hard-link it into place
   * (fails if the lock exists). A holder killed at any instant never leaves a lock file without its record,
   * which the next pass could not tell from one being written (found by the kill -9 fault tests: a pass
   * started right after such a kill exited 75). False when the lock is held.
   */
  private create(record: string): boolean {
    const draft = `${this.path}.${process.pid}.draft`;
    writeFileSync(draft, record, { mode: 0o644 });
    try {
      linkSync(draft, this.path);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP') throw error;
      // No hard links on this file system: create and write in two steps.
      try {
        const fd = openSync(this.path, 'wx', 0o644);
        writeSync(fd, record);
        closeSync(fd);
        return true;
      } catch (again) {
        if ((again as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw again;
      }
    } finally {
      try {
        unlinkSync(draft);
      } catch {
        // already gone
      }
    }
  }

  /**
   * Remove a dead holder's lock. A second O_EXCL file serialises the takeover, so two waiters can never both
   * decide the lock is stale and each delete the other's fresh lock.
   */
  private removeStale(): void {
    const steal = `${this.path}.takeover`;
    let fd: number;
    try {
      fd = openSync(steal, 'wx', 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // Someone is taking over right now; a takeover file older than 10 s belongs to a dead process.
      try {
        if (Date.now() - statSync(steal).mtimeMs > 10_000) unlinkSync(steal);
      } catch {
        // gone meanwhile
      }
      return;
    }
    try {
      const holder = readLock(this.path);
      // A lock with no readable record is half-written only for a moment; older than 2 s it is debris.
      const halfWritten = !holder && this.ageMs() < 2_000;
      if (!halfWritten && !(holder && isLockAlive(holder))) {
        try {
          unlinkSync(this.path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
    } finally {
      closeSync(fd);
      unlinkSync(steal);
    }
  }

  private ageMs(): number {
    try {
      return Date.now() - statSync(this.path).mtimeMs;
    } catch {
      return Infinity;
    }
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    try {
      const record = readLock(this.path);
      if (record && record.pid === process.pid) unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
