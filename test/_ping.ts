/**
 * Test helper: a monitoring server on 127.0.0.1 (node:http) that records every request it gets (method, path,
 * body) and answers 200, 500, or never (a hanging server).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll } from 'vitest';

export interface Ping {
  method: string;
  path: string;
  body: string;
}

export interface PingServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  pings: Ping[];
  /** How the next requests are answered. */
  mode: 'ok' | '500' | 'hang';
  /** Resolves once `n` requests have arrived in all. */
  waitFor(n: number): Promise<void>;
}

export async function pingServer(): Promise<PingServer> {
  const sockets = new Set<Socket>();
  const waiters: { n: number; resolve: () => void }[] = [];
  const state: PingServer = {
    origin: '',
    pings: [],
    mode: 'ok',
    waitFor: (n) => new Promise((resolve) => (state.pings.length >= n ? resolve() : waiters.push({ n, resolve }))),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      state.pings.push({ method: req.method ?? '', path: req.url ?? '', body });
      for (const w of waiters.filter((x) => state.pings.length >= x.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      if (state.mode === 'hang') return; // never answers; the socket is destroyed when the server closes
      res.statusCode = state.mode === '500' ? 500 : 200;
      res.end(state.mode === '500' ? 'error' : 'OK');
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  state.origin = `http://127.0.0.1:${address.port}`;
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return state;
}
