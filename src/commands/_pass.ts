import { describeError, RefusedError } from '../errors.js';
import { FileReporter, oneLine, type LogFormat } from '../log.js';

/**
 * Open the log file of a pass-running command (sync-once, run) for appending, before anything else happens.
 * A file that cannot be opened refuses the command (exit 2); one that fails later calls `onFailure` once
 * (default: one line on stderr) and the command goes on, its console output intact.
 */
export function openLogFile(path: string, format: LogFormat, onFailure?: (reason: string) => void): FileReporter {
  const file = new FileReporter(
    path,
    format,
    onFailure ?? ((reason) => process.stderr.write(`error: the log file ${oneLine(path)} can no longer be written: ${oneLine(reason)}\n`)),
  );
  try {
    file.open();
  } catch (error) {
    throw new RefusedError(`log file cannot be opened for appending: ${path}: ${describeError(error)}`);
  }
  return file;
}
