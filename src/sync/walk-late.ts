/**
 * A file's update installed beside the walk (issue 16, the incremental row): the new copy is written to its
 * temporary by the pass as always, and the rename over the old copy runs on libuv's thread pool while the walk
 * goes on. On ext4 that rename is the costliest call of an update (~170 us: renaming a file over another starts
 * the new file's writeback, `auto_da_alloc`), and an incremental pass made 1,000 of them on its own thread.
 *
 * Everything else stays as it was: the temporary is made, checked and given its metadata on the pass's thread
 * (copy-file.ts); the rename is the same call through the same opened folder (its handle: only the two last
 * names are resolved); the old copy's blocks are freed beside the pass (free-later.ts: its handle is closed once
 * the rename is settled, as many at a time as the descriptor limit allows there). The rename waits in the copy
 * pipeline (copy-pipeline.ts) like a batch: the update's log line, and everything after it (later log lines, the
 * folder's own mode and times, the closing of its handles), comes once the rename is done, so the log reads and
 * the replica ends exactly as when it was waited for. A rename that fails is handled then as a failed install
 * (its temporary removed, a refused name said so) and reported as that file's error. A copy that finds the disk
 * full while renames are pending (an update's, a new file's: `withRoom`) settles them first, waits until their
 * old copies are freed, and is made once more: renaming in its own calls, the pass would have had that room
 * (review 11).
 *
 * Only a plain update: a file over a file, nothing kept (--versions keeps the old copy first), a replica that
 * keeps times through a rename, on a local disk file system (fs-type.ts LOCAL_DISKS), in the CLI on Linux
 * (opened folders' handles), as the copy helper's batches: an embedding program's logger sees each update's event
 * right after its rename, as before. `FOLDER_SYNC_RENAME_LATER=0` turns it off (the bench's A/B, tests).
 */
import { accessMode, type OpenFolder } from './access.js';
import { notInstalled } from './apply.js';
import { chdirAllowed } from './entry.js';
import type { ReplicaCaps } from './capabilities.js';
import { LOCAL_DISKS } from './fs-type.js';
import { allReleased, releaseBlocks } from './free-later.js';
import { errnoOf } from './pass-report.js';
import type { PlannedStep } from './plan.js';
import type { CopyPipeline } from './copy-pipeline.js';
import type { WalkContext } from './walk-options.js';
import { copyWithRetry, reportCopied } from './walk-put.js';
import { unpinWorkingFolder } from './working-folder.js';

type CopyStep = Extract<PlannedStep, { op: 'copy' }>;
/** What an update beside the walk needs from it (walk-apply.ts StepWalk is one). */
type LateWalk = WalkContext & { readonly pipe: CopyPipeline };

const enabled = process.env['FOLDER_SYNC_RENAME_LATER'] !== '0';
/** Tests (FOLDER_SYNC_TEST_COPY_LATE=1, as copy-batch.ts): each rename starts only when the pass comes back for it. */
const late = process.env['FOLDER_SYNC_TEST_COPY_LATE'] === '1';

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

/** Renames queued beside the walk and not settled yet, per pass (its pipeline). */
const pending = new WeakMap<CopyPipeline, number>();

/**
 * Copy the step's file into a temporary now (errors thrown as always) and install it beside the walk. Not in a
 * batch's settle (updates are never in a batch: walk-copy.ts plainRun), so it may settle the pipeline itself.
 */
export async function updateLater(
  walk: LateWalk,
  step: CopyStep,
  path: string,
  from: OpenFolder,
  into: OpenFolder,
  caps: ReplicaCaps,
): Promise<void> {
  const { src } = step;
  const { pipe } = walk;
  const tmp = await withRoom(pipe, () => copyWithRetry(walk, from, into, src, path, caps));
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
  if (!late) start();
  const { report } = walk;
  pending.set(pipe, (pending.get(pipe) ?? 0) + 1);
  pipe.add({
    ready: () => done,
    help: () => undefined,
    settle: async () => {
      if (late && !done) start();
      if (!done) {
        unpinWorkingFolder(); // a real wait: other code runs meanwhile, in the process's own working folder (access.ts)
        await new Promise<void>((resolve) => (wake = resolve));
      }
      pending.set(pipe, (pending.get(pipe) ?? 1) - 1);
      releaseBlocks(held);
      if (failed) {
        report.handle('file', path, notInstalled(into, tmp, failed.error));
        return;
      }
      updatedLater++;
      reportCopied(report, step, path);
    },
  });
}

/**
 * Make a temporary in the replica (an update's, or a new file's after updates). The disk full (or the quota
 * reached) while renames are pending: their old copies still take their room, which renaming in the pass's own
 * calls would have given back already. They are settled, their old copies' handles closed (the blocks freed),
 * and the copy made once more; a disk still full is then what it says. Not from inside a settle (a batch's files
 * left by the helper): the queue is settled in order, never from within.
 */
export function withRoom(pipe: CopyPipeline, copy: () => string): string | Promise<string> {
  try {
    return copy(); // synchronous, as without updates beside the walk, unless the disk is full
  } catch (error) {
    const code = errnoOf(error);
    if ((code !== 'ENOSPC' && code !== 'EDQUOT') || (pending.get(pipe) ?? 0) === 0 || pipe.settling) throw error;
    return copyAgain(pipe, copy);
  }
}

async function copyAgain(pipe: CopyPipeline, copy: () => string): Promise<string> {
  await pipe.room(0);
  unpinWorkingFolder(); // a real wait (access.ts)
  await allReleased();
  return copy();
}

let updatedLater = 0;

/** Updates installed beside the walk by this process so far, their renames done (a pass's debug line says how many). */
export const updatesBesideWalk = (): number => updatedLater;
