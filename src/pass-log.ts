/**
 * The log file of a pass-running command (sync-once, run, a scheduled pass): opened for appending before
 * anything else happens, and the place a refusal is written. sync-once, run and scheduled runs all open and
 * report through these two functions, so a refused pass reads the same in every log.
 */
import { BusyError, describeError, RefusedError, type FolderSyncError } from './errors.js';
import { createLogger, FileReporter, type LogFormat } from './log.js';

/**
 * Open the log file for appending. A file that cannot be opened refuses the command (RefusedError, exit 2); one
 * that fails later calls `onFailure` once (default: one line on stderr) and the command goes on, its console
 * output intact.
 */
export function openPassLog(path: string, format: LogFormat, onFailure?: (reason: string) => void): FileReporter {
  const file = new FileReporter(
    path,
    format,
    onFailure ?? ((reason) => process.stderr.write(`error: the log file ${path} can no longer be written: ${reason}\n`)),
  );
  try {
    file.open();
  } catch (error) {
    throw new RefusedError(`log file cannot be opened for appending: ${path}: ${describeError(error)}`);
  }
  return file;
}

/** The log line of a pass that did not run: skipped (another pass holds the replica) or refused (a guard). */
export function refusalLine(error: FolderSyncError): string {
  return `${error instanceof BusyError ? 'pass skipped' : 'pass refused'}: ${error.message}`;
}

/**
 * Write a refusal as an ERROR line: into the open log file, or, when the command was refused before it opened
 * one (a scheduled pass whose guard or state folder failed first), into the file at `path`, opened for this line.
 * With no log file, or one that cannot be opened, stderr is all there is (cron mails it, or it is lost with the log).
 */
export function logRefusal(log: FileReporter | { path: string | undefined; format: LogFormat }, line: string): void {
  if (log instanceof FileReporter) {
    createLogger([log]).error(line);
    return;
  }
  let file: FileReporter | undefined;
  try {
    if (log.path !== undefined) file = openPassLog(log.path, log.format);
  } catch {
    // cannot be opened: the line goes to stderr below
  }
  if (!file) {
    process.stderr.write(`error: ${line}\n`);
    return;
  }
  createLogger([file]).error(line);
  file.close();
}
