/**
 * A file's update installed beside the walk (issue 16, the incremental row): the new copy is written to its
 * temporary by the pass as always, and the rename over the old copy runs on libuv's thread pool while the walk
 * goes on. On ext4 that rename is the costliest call of an update (~170 us: renaming a file over another starts
 * the new file's writeback, `auto_da_alloc`), and an incremental pass made 1,000 of them on its own thread.
 *
 * Everything else stays as it was: the temporary is made, checked and given its metadata on the pass's thread
 * (copy-file.ts); the rename is the same call through the same opened folder (its handle: only the two last
 * names are resolved); the old copy's blocks are freed beside the pass (free-later.ts). The rename waits in the
 * copy pipeline (copy-pipeline.ts) like a batch: the update's log line, and everything after it (later log
 * lines, the folder's own mode and times, the closing of its handles), comes once the rename is done, so the
 * log reads and the replica ends exactly as when it was waited for. A rename that fails is handled then as a
 * failed install (its temporary removed, a refused name said so) and reported as that file's error.
 *
 * Only a plain update: a file over a file, nothing kept (--versions keeps the old copy first), a replica that
 * keeps times through a rename, on a local disk file system (fs-type.ts LOCAL_DISKS), in the CLI on Linux
 * (opened folders' handles), as the copy helper's batches: an embedding program's logger sees each update's event
 * right after its rename, as before (test/faults/source-changes.test.ts acts on the replica at such an event). `FOLDER_SYNC_RENAME_LATER=0` turns it off (the bench's A/B, tests).
 */
import { accessMode, type OpenFolder } from './access.js';
import { notInstalled } from './apply.js';
import { chdirAllowed } from './entry.js';
import type { ReplicaCaps } from './capabilities.js';
import { LOCAL_DISKS } from './fs-type.js';
import { releaseBlocks } from './free-later.js';
import type { PlannedStep } from './plan.js';
import type { CopyPipeline } from './copy-pipeline.js';
import type { WalkContext } from './walk-options.js';
import { copyWithRetry } from './walk-put.js';

type CopyStep = Extract<PlannedStep, { op: 'copy' }>;
/** What an update beside the walk needs from it (walk-apply.ts StepWalk is one). */
type LateWalk = WalkContext & { readonly pipe: CopyPipeline };

const enabled = process.env['FOLDER_SYNC_RENAME_LATER'] !== '0';

/** Is this step an update whose rename can run beside the walk (see the top)? */
export function updatesLater(walk: LateWalk, step: CopyStep, into: OpenFolder | undefined, caps: ReplicaCaps): into is OpenFolder {
  return (
    enabled &&
    into !== undefined &&
    !walk.opts.dryRun &&
    walk.opts.versions === undefined &&
    step.dst?.type === 'file' &&
    step.replace === undefined &&
    caps.renameKeepsTimes &&
    LOCAL_DISKS.has(caps.fsType) &&
    accessMode() === 'fd' &&
    chdirAllowed()
  );
}

/** Copy the step's file into a temporary now (errors thrown as always) and install it beside the walk. */
export function updateLater(walk: LateWalk, step: CopyStep, path: string, from: OpenFolder, into: OpenFolder, caps: ReplicaCaps): void {
  const { src } = step;
  const tmp = copyWithRetry(walk, from, into, src, path, caps);
  const held = into.holdBlocks(src.name, step.dst);
  let done = false;
  let failed: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const start = (): void => {
    try {
      into.renameLater(tmp, src.name, (error) => {
        done = true;
        if (error) failed = { error };
        wake?.();
      });
    } catch (error) {
      done = true;
      failed = { error };
    }
  };
  // Tests (FOLDER_SYNC_TEST_COPY_LATE=1, as copy-batch.ts): the rename starts only when the pass comes back for it.
  const late = process.env['FOLDER_SYNC_TEST_COPY_LATE'] === '1';
  if (!late) start();
  const { report } = walk;
  walk.pipe.add({
    ready: () => done,
    help: () => undefined,
    settle: async () => {
      if (late && !done) start();
      if (!done) await new Promise<void>((resolve) => (wake = resolve));
      releaseBlocks(held);
      if (failed) {
        report.handle('file', path, notInstalled(into, tmp, failed.error));
        return;
      }
      report.stats.bytes += src.size;
      // Only metadata differed, but not ones set in place (plan.ts metaStep): said so (as walk-apply.ts).
      const note = step.meta && { note: `metadata: ${step.meta.join(', ')}; copied again, not changed in place` };
      report.op('updated', 'file', path, { size: src.size, ...note });
    },
  });
  updatedLater++;
}

let updatedLater = 0;

/** Updates installed beside the walk by this process so far (a pass's debug line says how many). */
export const updatesBesideWalk = (): number => updatedLater;
