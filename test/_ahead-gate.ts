/** Shared by the read-ahead tests (test/source-ahead.test.ts, test/source-ahead-ring.test.ts). */
import type { AheadGate } from '../src/sync/source-ahead-read.js';

/** A gate the test drives: `consumed` is set by the test; `blocked` resolves when the reader waits for the pass. */
export function testGate(consumed = Infinity): AheadGate & { read: string[]; pass: number; stop: boolean; blocked: Promise<void>; release(): void } {
  let signal: () => void = () => {};
  let resume: () => void = () => {};
  const g = {
    read: [] as string[],
    pass: consumed,
    stop: false,
    blocked: new Promise<void>((r) => (signal = r)),
    consumed: () => g.pass,
    stopped: () => g.stop,
    waitForPass: () => {
      signal();
      return new Promise<void>((r) => (resume = r));
    },
    onRead: (name: string) => void g.read.push(name),
    release: () => resume(),
  };
  return g;
}
