/**
 * Pings for a dead-man's switch (healthchecks.io and compatible, Uptime Kuma push monitors): which URL a pass
 * start or end calls, the URL masked for people, and the sending itself with Node's fetch under a per-request
 * timeout, a couple of retries and a total budget per pass, so a hanging or failing server never holds a pass up
 * for long and never changes its exit code.
 */
import { UsageError } from '../errors.js';

/** healthchecks: `<url>/start`, `<url>` (exit 0), `<url>/<exit code>`. kuma: `...?status=up|down&msg=...&ping=`. */
export type PingStyle = 'healthchecks' | 'kuma';

export interface PingRequest {
  url: string;
  method: 'GET' | 'POST';
  body?: string;
}

/** Check a `--notify-url`: http or https and nothing else. The message masks it: it may carry a token. */
export function checkNotifyUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--notify-url needs an http:// or https:// URL, got ${JSON.stringify(maskUrl(text))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--notify-url needs an http:// or https:// URL, got ${JSON.stringify(maskUrl(text))}`);
  }
  if (/[\s]/.test(text)) throw new UsageError(`--notify-url must not contain spaces or line breaks: ${JSON.stringify(maskUrl(text))}`);
  return text;
}

/** Uptime Kuma push monitors: `https://kuma.example/api/push/<token>?status=up&msg=OK&ping=`. */
export function pingStyle(url: string): PingStyle {
  try {
    return /\/api\/push\/[^/]+\/?$/.test(new URL(url).pathname) ? 'kuma' : 'healthchecks';
  } catch {
    return 'healthchecks';
  }
}

/**
 * The request for a pass start (`'start'`) or end (its exit code). Undefined when the style has no such ping
 * (Kuma has no start signal). Healthchecks counts `/<exit status>` 0 as success and anything else as failure,
 * and shows the status: 1 (entries failed), 2 (refused), 74 (log failed) and 75 (busy) stay apart.
 */
export function pingRequest(
  url: string,
  event: 'start' | { exitCode: number; message: string; durationMs: number },
  body?: string,
): PingRequest | undefined {
  const u = new URL(url);
  if (pingStyle(url) === 'kuma') {
    if (event === 'start') return undefined;
    u.searchParams.set('status', event.exitCode === 0 ? 'up' : 'down');
    u.searchParams.set('msg', event.message.slice(0, 200));
    u.searchParams.set('ping', String(Math.round(event.durationMs)));
    return { url: u.toString(), method: 'GET' };
  }
  const base = u.pathname.replace(/\/+$/, '');
  u.pathname = event === 'start' ? `${base}/start` : event.exitCode === 0 ? base || '/' : `${base}/${event.exitCode}`;
  return { url: u.toString(), method: 'POST', ...(body !== undefined ? { body } : {}) };
}

/**
 * A URL for people: scheme and host, then `…` and the last 4 characters of the rest (path and query hold the
 * token): `https://hc-ping.com/…9f2a`. User and password are dropped. Text that is no URL shows only its end.
 */
export function maskUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text.length > 8 ? `…${text.slice(-4)}` : '…';
  }
  const secret = `${url.pathname}${url.search}`.replace(/^\/+|\/+$/g, '');
  if (secret === '') return `${url.protocol}//${url.host}/`;
  return `${url.protocol}//${url.host}/…${secret.length > 8 ? secret.slice(-4) : ''}`;
}

/** Every http(s) URL in a text masked (hook commands, error messages). */
export function maskUrls(text: string): string {
  return text.replace(/\bhttps?:\/\/[^\s'"<>`]+/gi, (m) => maskUrl(m));
}

/** The limits of notifications, with environment knobs for tests and unusual networks. */
export interface PingLimits {
  /** One request (default 10 s). */
  timeoutMs: number;
  /** Retries after a failed request (default 2: three tries). */
  retries: number;
  /** Everything the pings of one pass may take together (default 30 s). */
  budgetMs: number;
  /** Pause before a retry (default 1 s; never past the budget). */
  backoffMs: number;
}

function knob(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : fallback;
}

export function pingLimits(env: NodeJS.ProcessEnv = process.env): PingLimits {
  return {
    timeoutMs: knob(env, 'FOLDER_SYNC_NOTIFY_TIMEOUT_MS', 10_000),
    retries: Math.min(knob(env, 'FOLDER_SYNC_NOTIFY_RETRIES', 2), 5),
    budgetMs: Math.min(knob(env, 'FOLDER_SYNC_NOTIFY_BUDGET_MS', 30_000), 30_000),
    backoffMs: knob(env, 'FOLDER_SYNC_NOTIFY_BACKOFF_MS', 1_000),
  };
}

/** The time left for a pass's pings; shared by its start and end ping. */
export class PingBudget {
  private readonly deadline: number;
  constructor(
    budgetMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.deadline = now() + budgetMs;
  }
  remaining(): number {
    return Math.max(0, this.deadline - this.now());
  }
}

export interface PingResult {
  ok: boolean;
  attempts: number;
  /** The last HTTP status, when a response came. */
  status?: number;
  /** Why it failed, with the URL masked. */
  error?: string;
}

export interface PingDeps {
  fetch: typeof fetch;
  sleep: (ms: number) => Promise<void>;
  /** The abort signal of one request (tests: a fake clock). */
  timeout: (ms: number) => AbortSignal;
}

const realDeps: PingDeps = {
  fetch: (...a) => fetch(...a),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  timeout: (ms) => AbortSignal.timeout(ms),
};

function reasonOf(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${(timeoutMs / 1000).toFixed(1)}s`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `${e?.message ?? String(error)}${cause ? ` (${cause})` : ''}`;
}

/**
 * Send one ping: 2xx is success; anything else (a 4xx/5xx, no connection, no answer in time) is retried while
 * tries and `limit` last. `limit` caps this ping's share of the budget (the start ping leaves room for the end).
 * Never throws.
 */
export async function sendPing(
  req: PingRequest,
  limits: PingLimits,
  budget: PingBudget,
  limit = Infinity,
  deps: PingDeps = realDeps,
): Promise<PingResult> {
  const stopAt = budget.remaining() - Math.min(limit, budget.remaining());
  const left = (): number => budget.remaining() - stopAt;
  let attempts = 0;
  let last: PingResult = { ok: false, attempts: 0, error: 'no time left in the notification budget' };
  for (let i = 0; i <= limits.retries; i++) {
    if (i > 0) {
      if (left() <= limits.backoffMs) break;
      await deps.sleep(limits.backoffMs);
    }
    const timeout = Math.min(limits.timeoutMs, left());
    if (timeout <= 0) break;
    attempts++;
    try {
      const response = await deps.fetch(req.url, {
        method: req.method,
        ...(req.body !== undefined ? { body: req.body, headers: { 'content-type': 'text/plain; charset=utf-8' } } : {}),
        signal: deps.timeout(timeout),
        redirect: 'follow',
      });
      // Read (and drop) the answer so the connection is released; a body that never ends is cut by the timeout.
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { ok: true, attempts, status: response.status };
      last = { ok: false, attempts, status: response.status, error: `HTTP ${response.status}` };
    } catch (error) {
      last = { ok: false, attempts, error: maskUrls(reasonOf(error, timeout)) };
    }
  }
  return { ...last, attempts };
}
