/**
 * Test helper: hold a pass mid-way without timing. Give the pass `--log <path>` and `env`: a preload
 * (_held-log-preload.mjs) lets the first 64 KiB of its log lines out and then holds the next write, as an unread
 * pipe would, so the pass blocks inside its work, holding its lock, until the test drains the log. A pass with
 * more log lines than that can therefore not finish before the test lets it. (A FIFO did this before issue 11;
 * a log must now be a regular file.)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './_tree.js';

/** Log lines comfortably past the 64 KiB held (~50-byte lines) and the reporter's own buffer. */
export const LINES_TO_HOLD = 4000;

export interface HeldLog {
  /** The log file to pass as `--log`. */
  path: string;
  /** Environment for the pass's process (the preload and where to find the release). */
  env: Record<string, string>;
  /**
   * Let the pass go on; awaiting the result gives everything it logged so far (await it once the pass has
   * ended or was killed, to get all of it).
   */
  drain(): PromiseLike<string>;
}

export function heldLog(): HeldLog {
  const dir = tempDir('fs-held-');
  const path = join(dir, 'pass.log');
  const release = join(dir, 'release');
  const preload = join(import.meta.dirname, '_held-log-preload.mjs');
  return {
    path,
    env: { NODE_OPTIONS: `--import ${preload}`, FOLDER_SYNC_TEST_HELD_LOG: `${path}:${release}` },
    drain() {
      writeFileSync(release, '');
      // Read when awaited: by then the caller has waited for the pass to end.
      return {
        then: (ok, fail) =>
          Promise.resolve()
            .then(() => readFileSync(path, 'utf8'))
            .then(ok, fail),
      };
    },
  };
}
