/**
 * Test helper: hold a pass mid-way without timing. Give the pass `--log <fifo>` and do not read the FIFO: the
 * file reporter writes its lines synchronously, 64 KiB at a time, so once about 128 KiB of lines are out (one
 * buffer in the full pipe, the next one waiting) the pass blocks inside its work, holding its lock, until the
 * test drains the FIFO. A pass with more log lines than that can therefore not finish before the test lets it.
 */
import { execFileSync } from 'node:child_process';
import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './_tree.js';

/** Log lines comfortably past what the reporter's buffer and a 64 KiB pipe hold (~128 KiB of ~50-byte lines). */
export const LINES_TO_HOLD = 4000;

export interface HeldLog {
  /** The FIFO to pass as `--log`. */
  path: string;
  /**
   * Start reading: the pass goes on; resolves with everything it logged once it closed the log (exited or was
   * killed). Call it only once the pass has opened the log (it has logged, or holds its lock).
   */
  drain(): Promise<string>;
}

export function heldLog(): HeldLog {
  const path = join(tempDir('fs-held-'), 'pass.log');
  execFileSync('mkfifo', [path]);
  // Our read end is open from the start, so the pass's open for writing never waits; non-blocking so the
  // test never does, and wrapped in a socket (libuv reads a FIFO like a pipe) only when the test drains it.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  let drained: Promise<string> | undefined;
  return {
    path,
    drain() {
      drained ??= new Promise((resolve, reject) => {
        const socket = new Socket({ fd, readable: true, writable: false });
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (d: string) => (text += d));
        socket.on('error', reject);
        socket.on('end', () => {
          socket.destroy();
          resolve(text);
        });
      });
      return drained;
    },
  };
}
