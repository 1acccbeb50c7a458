/** Exit codes: a small, stable table (see README "Exit codes"). */
export const ExitCode = {
  /** The pass completed. */
  ok: 0,
  /** The pass finished but some entries failed; each one was logged. */
  partial: 1,
  /** Bad usage or a refused pass; nothing was changed. */
  usage: 2,
  /** The log file could not be written during the pass (the console still reported everything). */
  logFailed: 74,
  /** Another pass holds the replica's lock. */
  busy: 75,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Base class: every error the user may see carries its exit code and a one-line message. */
export class FolderSyncError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Bad arguments: unknown flag, missing argument, malformed number. */
export class UsageError extends FolderSyncError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.usage, options);
  }
}

/** A guard refused the pass before anything was changed. */
export class RefusedError extends FolderSyncError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.usage, options);
  }
}

/** Another pass holds the replica. */
export class BusyError extends FolderSyncError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.busy, options);
  }
}

/** A failure that is not the user's input: scheduler not reachable, unknown job, and so on. */
export class OperationError extends FolderSyncError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.partial, options);
  }
}

/** Short reason for a system error: "permission denied (EACCES)" instead of a full Node message. */
export function describeError(error: unknown): string {
  if (error instanceof FolderSyncError) return error.message;
  const e = error as NodeJS.ErrnoException | undefined;
  if (e && typeof e.code === 'string') {
    const reason = errnoReasons[e.code];
    return reason ? `${reason} (${e.code})` : `${e.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

const errnoReasons: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many levels of symbolic links',
  EEXIST: 'already exists',
  ENOTEMPTY: 'directory not empty',
  EIO: 'input/output error',
  EBUSY: 'resource busy',
  EMFILE: 'too many open files',
  EXDEV: 'cross-device link',
};
