// The --checksum helper thread (see compare.ts): takes items from each batch's shared counter until none is
// left. A batch that arrives after the main thread took every item costs one counter increment.
import { parentPort } from 'node:worker_threads';
import { fsReader, workOn, type BatchMessage } from './compare.js';

parentPort?.on('message', (batch: BatchMessage) => workOn(batch, fsReader));
