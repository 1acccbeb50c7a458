/** Atomics.waitAsync (Node 16+; not in the ES2023 lib this project compiles against), for the helper threads' waits. */
type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };

export const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
