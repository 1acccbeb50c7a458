// The --checksum helper thread (see compare.ts): on each batch's message, takes items from the shared counter
// until none is left. A message that arrives after this batch is over (the main thread took every item, or
// already moved on to the next batch) costs one look at the counter.
import { parentPort, workerData } from 'node:worker_threads';
import { helperStart } from './helper-thread.js';
import { fsReader, loadHash } from './compare.js';
import { decodeBatch, makeShared, workOn, type BatchMessage } from './compare-batch.js';

const shared = makeShared(helperStart(workerData));
await loadHash(); // messages wait in the port until the listener below is attached
parentPort?.on('message', (message: BatchMessage) => workOn(shared, decodeBatch(message), fsReader));
