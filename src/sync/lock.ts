import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { BusyError } from '../errors.js';
import { replicaKey, stateDir } from '../state.js';

interface LockRecord {
  pid: number;
  host: string;
  replica: string;
  startedAt: string;
  /** Linux: the holder's start time in clock ticks since boot, so a recycled pid is not mistaken for it. */
  procStart?: string;
  mode?: string;
}

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

function isAlive(record: LockRecord): boolean {
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

/** Read a lock file; undefined when there is none or it is unreadable. */
export function readLock(path: string): LockRecord | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockRecord;
  } catch {
    return undefined;
  }
}

/** True when a live process holds the lock of this replica. */
export function isLocked(replicaRealPath: string, dir = stateDir()): LockRecord | undefined {
  const record = readLock(lockPath(replicaRealPath, dir));
  return record && isAlive(record) ? record : undefined;
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
  ) {
    this.path = lockPath(replica, dir);
  }

  acquire(): void {
    mkdirSync(join(this.path, '..'), { recursive: true });
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        const fd = openSync(this.path, 'wx', 0o644);
        const record: LockRecord = {
          pid: process.pid,
          host: hostname(),
          replica: this.replica,
          startedAt: new Date().toISOString(),
          procStart: procStartTime(process.pid),
          mode: this.mode,
        };
        writeSync(fd, JSON.stringify(record));
        closeSync(fd);
        this.held = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = readLock(this.path);
      if (holder && isAlive(holder)) {
        throw new BusyError(
          `another pass is running on ${this.replica} (pid ${holder.pid}, since ${holder.startedAt})`,
        );
      }
      this.removeStale();
    }
    throw new BusyError(`could not take the lock of ${this.replica}: ${this.path}`);
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
      if (!halfWritten && !(holder && isAlive(holder))) {
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
