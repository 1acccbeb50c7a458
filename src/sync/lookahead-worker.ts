// The look-ahead thread (see lookahead.ts): one walk per pass, back to front, looking only.
import { workerData, type MessagePort } from 'node:worker_threads';
import { runAhead, type AheadJob } from './lookahead.js';

const { job, port } = workerData as { job: AheadJob; port: MessagePort };
runAhead(job, port);
