import { setFlagsFromString } from 'node:v8';

/**
 * The CLI keeps V8's young generation at its starting size. By default V8 doubles the semi-spaces (up to 16 MiB
 * each) during a long pass, which is most of the difference in peak RSS between a pass over 100,000 and over
 * 1,000,000 files (94 vs 69 MiB); with a growth factor of 1 they stay at 1-2 MiB (75-78 vs 64-65 MiB) at the
 * same CPU time (docs/benchmark.md). Unlike --max-semi-space-size, which V8 reads only when the heap is made, the
 * growth factor is read each time the young generation would grow, so setting it at run time takes effect.
 * The CLI only: the flag is process-wide, not something a library may change for its embedder.
 */
export const CLI_V8_FLAGS = '--semi-space-growth-factor=1';

let kept = false;

export function keepYoungGenerationSmall(): void {
  kept = true;
  setFlagsFromString(CLI_V8_FLAGS);
}

/**
 * Starting a worker thread resets V8's flags for the whole process when the worker's isolate is made, on its own
 * thread, some time after `new Worker()` (measured: the main thread's young generation then grows to 16 MiB
 * semi-spaces again, 32 MiB of new space instead of 2: +36 MiB peak RSS on a 1,000,000-file pass with the
 * look-ahead thread). So each helper thread sets the CLI's flags again once it runs: `new Worker` gets these
 * (undefined where the CLI did not set them: a library embedder's choice is left alone), the worker passes them
 * to `applyHeapFlags`.
 */
export function heapFlagsForWorkers(): string | undefined {
  return kept ? CLI_V8_FLAGS : undefined;
}

export function applyHeapFlags(flags: string | undefined): void {
  if (flags) setFlagsFromString(flags);
}
