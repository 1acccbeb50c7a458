/**
 * Alerts, the pure parts: which URL each ping calls, masking, the retry/timeout/budget rules of sendPing (a fake
 * fetch and a fake clock: no waiting), the summary and hook environment, and the `check` verdicts.
 */
import { describe, expect, it } from 'vitest';
import { ageWords, checkJob, parseMaxAge } from '../src/notify/check.js';
import { hookEnv } from '../src/notify/hooks.js';
import { capBytes, MAX_BODY_BYTES, summaryJson, summaryText, type PassSummary } from '../src/notify/outcome.js';
import { checkNotifyUrl, maskUrl, maskUrls, PingBudget, pingRequest, sendPing, type PingLimits } from '../src/notify/ping.js';
import { describeNotify, maskHook, notifySettingsFromArgs } from '../src/notify/settings.js';
import type { JobRecord } from '../src/schedule/record.js';

const HC = 'https://hc-ping.com/0b7c1e6a-5d3f-4a8e-9c2b-7e1f0d3a9f2a';
const end = (exitCode: number) => ({ exitCode, message: 'm', durationMs: 1234 });

describe('ping URLs', () => {
  const cases: { name: string; url: string; event: Parameters<typeof pingRequest>[1]; want: string | undefined; method?: string }[] = [
    { name: 'healthchecks start', url: HC, event: 'start', want: `${HC}/start` },
    { name: 'healthchecks success: the URL itself', url: HC, event: end(0), want: HC },
    { name: 'healthchecks failure: /<exit code> (1 entries failed)', url: HC, event: end(1), want: `${HC}/1` },
    { name: 'refused: /2', url: HC, event: end(2), want: `${HC}/2` },
    { name: 'busy: /75, told apart from refused', url: HC, event: end(75), want: `${HC}/75` },
    { name: 'a trailing slash is not doubled', url: `${HC}/`, event: end(2), want: `${HC}/2` },
    {
      name: 'a query string stays after the path',
      url: 'https://hc.example/ping/key/slug?create=1',
      event: 'start',
      want: 'https://hc.example/ping/key/slug/start?create=1',
    },
    { name: 'Uptime Kuma: no start ping', url: 'https://kuma.example/api/push/AbC123', event: 'start', want: undefined },
    {
      name: 'Uptime Kuma: status=up, message and duration in the query, GET',
      url: 'https://kuma.example/api/push/AbC123?status=up&msg=OK&ping=',
      event: end(0),
      want: 'https://kuma.example/api/push/AbC123?status=up&msg=m&ping=1234',
      method: 'GET',
    },
    {
      name: 'Uptime Kuma: status=down',
      url: 'https://kuma.example/api/push/AbC123',
      event: end(2),
      want: 'https://kuma.example/api/push/AbC123?status=down&msg=m&ping=1234',
      method: 'GET',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const req = pingRequest(c.url, c.event, 'body');
      expect(req?.url).toBe(c.want);
      if (c.method) expect(req?.method).toBe(c.method);
      else if (c.want) expect(req).toMatchObject({ method: 'POST', body: 'body' });
    });
  }
});

describe('masking', () => {
  const cases: [string, string][] = [
    [HC, 'https://hc-ping.com/…9f2a'],
    ['https://hc.example/ping/s3cr3tkey/backup?create=1', 'https://hc.example/…te=1'],
    ['https://user:password@hc.example/abcdefghijk', 'https://hc.example/…hijk'],
    ['https://kuma.example/api/push/AbCdEf123456?status=up', 'https://kuma.example/…s=up'],
    ['http://127.0.0.1:8080/short', 'http://127.0.0.1:8080/…'],
    ['http://127.0.0.1:8080/', 'http://127.0.0.1:8080/'],
    ['not a url but secret', '…cret'],
  ];
  for (const [url, masked] of cases) it(`${url} -> ${masked}`, () => expect(maskUrl(url)).toBe(masked));

  it('masks every URL in a text and keeps the rest', () => {
    expect(maskUrls(`curl -fsS ${HC} && curl 'https://hooks.slack.com/services/T0/B0/XYZsecret'`)).toBe(
      `curl -fsS https://hc-ping.com/…9f2a && curl 'https://hooks.slack.com/…cret'`,
    );
  });

  it('a hook shows only its first word; settings never show a token', () => {
    expect(maskHook('mail -s "folder-sync failed" me@example.com')).toBe('mail …');
    expect(maskHook(`${HC} x`)).toBe('https://hc-ping.com/…9f2a …');
    const text = describeNotify({ url: HC, onFailure: 'curl -H "Authorization: Bearer t0ps3cret" https://ntfy.sh/x', onSuccess: 'true' });
    expect(text).toBe('https://hc-ping.com/…9f2a, on-failure: curl …, on-success: true');
    expect(text).not.toMatch(/t0ps3cret|0b7c1e6a/);
  });

  it('a bad --notify-url is a usage error whose message does not carry the token', () => {
    for (const bad of ['ftp://hc.example/abcdefghij-token', 'hc-ping.com/abcdefghij-token', 'https://hc.example/ab cdefghij-token']) {
      expect(() => checkNotifyUrl(bad)).toThrowError(/^--notify-url (needs an http|must not contain)/);
      try {
        checkNotifyUrl(bad);
      } catch (error) {
        expect((error as Error & { exitCode: number }).exitCode).toBe(2);
        expect((error as Error).message).not.toContain('abcdefghij');
      }
    }
    expect(() => notifySettingsFromArgs({ 'on-failure': '  ' })).toThrowError('--on-failure needs a command');
    expect(notifySettingsFromArgs({})).toBeUndefined();
    expect(notifySettingsFromArgs({ 'notify-url': HC, 'on-success': 'true' })).toEqual({ url: HC, onSuccess: 'true' });
  });
});

/** A fake fetch on a fake clock: an answer takes 10 ms; a hanging server takes the whole timeout of the request. */
function fakeNet(answer: (call: number) => number | 'hang' | 'refused') {
  let now = 0;
  const calls: { url: string; at: number }[] = [];
  const timeouts = new WeakMap<AbortSignal, number>();
  const fakeFetch = (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), at: now });
    const a = answer(calls.length);
    if (a === 'hang') {
      now += timeouts.get(init?.signal as AbortSignal) ?? Infinity;
      throw Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
    }
    now += 10;
    if (a === 'refused') throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    return new Response('x', { status: a });
  }) as typeof globalThis.fetch;
  const sleep = async (ms: number): Promise<void> => void (now += ms);
  const timeout = (ms: number): AbortSignal => {
    const signal = new AbortController().signal;
    timeouts.set(signal, ms);
    return signal;
  };
  return { fetch: fakeFetch, sleep, timeout, calls, now: () => now };
}
const limits: PingLimits = { timeoutMs: 10_000, retries: 2, budgetMs: 30_000, backoffMs: 1_000 };

describe('sendPing: retries, timeout and the 30 s budget', () => {
  it('2xx at once: one try', async () => {
    const net = fakeNet(() => 200);
    const r = await sendPing({ url: HC, method: 'POST' }, limits, new PingBudget(30_000, net.now), Infinity, net);
    expect(r).toEqual({ ok: true, attempts: 1, status: 200 });
  });

  it('a 500 is retried twice, then reported with its status', async () => {
    const net = fakeNet(() => 500);
    const r = await sendPing({ url: HC, method: 'POST' }, limits, new PingBudget(30_000, net.now), Infinity, net);
    expect(r).toEqual({ ok: false, attempts: 3, status: 500, error: 'HTTP 500' });
  });

  it('a 500 then a 200: success on the retry', async () => {
    const net = fakeNet((n) => (n === 1 ? 500 : 200));
    expect(await sendPing({ url: HC, method: 'POST' }, limits, new PingBudget(30_000, net.now), Infinity, net)).toEqual({
      ok: true,
      attempts: 2,
      status: 200,
    });
  });

  it('no connection: the reason, without the URL', async () => {
    const net = fakeNet(() => 'refused');
    const r = await sendPing({ url: HC, method: 'POST' }, limits, new PingBudget(30_000, net.now), Infinity, net);
    expect(r.ok).toBe(false);
    expect(r.error).toBe('fetch failed (ECONNREFUSED)');
  });

  it('a hanging server: the start ping takes at most a third of the budget, the end ping the rest; 30 s in all', async () => {
    const net = fakeNet(() => 'hang');
    const budget = new PingBudget(30_000, net.now);
    const start = await sendPing({ url: `${HC}/start`, method: 'POST' }, limits, budget, 10_000, net);
    expect(start).toMatchObject({ ok: false, attempts: 1, error: 'no answer within 10.0s' });
    const finish = await sendPing({ url: HC, method: 'POST' }, limits, budget, Infinity, net);
    expect(finish).toMatchObject({ ok: false, attempts: 2, error: 'no answer within 9.0s' }); // 10 s, 1 s pause, the 9 s left
    expect(net.calls.map((c) => c.at)).toEqual([0, 10_000, 21_000]);
    expect(net.now()).toBe(30_000);
    expect(budget.remaining()).toBe(0);
    // Nothing is left: a further ping does not even try.
    const after = await sendPing({ url: HC, method: 'POST' }, limits, new PingBudget(0, net.now), Infinity, net);
    expect(after).toMatchObject({ ok: false, attempts: 0 });
  });
});

const summary = (over: Partial<PassSummary> = {}): PassSummary => ({
  result: 'partial',
  exitCode: 1,
  job: 'photos',
  source: '/src',
  replica: '/rep',
  log: '/var/log/fs.log',
  startedAt: '2026-11-28T07:00:00.000Z',
  durationMs: 1500,
  checked: 10,
  counts: { created: 1, updated: 2, removed: 3, failed: 4, skipped: 5, bytes: 6 },
  errors: ['failed file "secret": permission denied (EACCES)'],
  ...over,
});

describe('the summary', () => {
  it('text: result, exit code, counts, duration and the first error lines', () => {
    expect(summaryText(summary())).toBe(
      [
        'folder-sync pass partial (exit 1) job photos',
        'source: /src',
        'replica: /rep',
        'log: /var/log/fs.log',
        'started: 2026-11-28T07:00:00.000Z, duration 1.500s',
        'checked 10, created 1, updated 2, removed 3, failed 4, skipped 5, bytes 6',
        'first warnings and errors:',
        '  failed file "secret": permission denied (EACCES)',
        '',
      ].join('\n'),
    );
  });

  it('is capped at 10 KB, text and JSON alike (JSON stays valid)', () => {
    const long = summary({
      errors: Array.from({ length: 10 }, () => 'e'.repeat(500)),
      source: `/${'s'.repeat(4000)}`,
      replica: `/${'r'.repeat(4000)}`,
    });
    expect(Buffer.byteLength(summaryText(long))).toBeLessThanOrEqual(MAX_BODY_BYTES);
    expect(summaryText(long)).toMatch(/\[cut at 10 KB\]\n$/);
    const json = JSON.parse(summaryJson(long)) as PassSummary & { truncated?: boolean };
    expect(json.truncated).toBe(true);
    expect(json.errors).toEqual([]);
    expect(capBytes('é'.repeat(6000))).not.toContain('\uFFFD');
  });

  it('the hook environment', () => {
    const env = hookEnv(summary(), 'on-failure');
    expect(env).toMatchObject({
      FOLDER_SYNC_EVENT: 'failure',
      FOLDER_SYNC_RESULT: 'partial',
      FOLDER_SYNC_EXIT_CODE: '1',
      FOLDER_SYNC_JOB: 'photos',
      FOLDER_SYNC_SOURCE: '/src',
      FOLDER_SYNC_REPLICA: '/rep',
      FOLDER_SYNC_LOG: '/var/log/fs.log',
      FOLDER_SYNC_CREATED: '1',
      FOLDER_SYNC_UPDATED: '2',
      FOLDER_SYNC_REMOVED: '3',
      FOLDER_SYNC_FAILED: '4',
      FOLDER_SYNC_BYTES: '6',
      FOLDER_SYNC_DURATION_MS: '1500',
    });
    expect(JSON.parse(env['FOLDER_SYNC_SUMMARY_JSON'] as string)).toEqual(summary());
    // A refused pass ran nothing: its counts are empty, not 0.
    const refused = hookEnv(
      summary({ result: 'refused', exitCode: 2, counts: undefined, checked: undefined, message: 'source folder does not exist' }),
      'on-failure',
    );
    expect(refused).toMatchObject({ FOLDER_SYNC_EXIT_CODE: '2', FOLDER_SYNC_CREATED: '', FOLDER_SYNC_MESSAGE: 'source folder does not exist' });
  });
});

describe('check', () => {
  const now = Date.parse('2026-11-28T08:00:00Z');
  const ago = (minutes: number): string => new Date(now - minutes * 60_000).toISOString();
  const pass = (minutes: number, result: 'ok' | 'partial' | 'refused' = 'ok') => ({
    startedAt: ago(minutes),
    result,
    pid: 1,
    exitCode: result === 'ok' ? 0 : result === 'partial' ? 1 : 2,
  });
  const rec = (r: Partial<JobRecord>): JobRecord => ({ version: 1, name: 'j', ...r });
  const cases: { name: string; every?: number; record: JobRecord; maxAge?: number; ok: boolean; text: RegExp }[] = [
    {
      name: 'a success within twice the interval',
      every: 900,
      record: rec({ lastSuccess: pass(20) }),
      ok: true,
      text: /^j: last successful pass 20 minutes ago \(allowed 30 minutes\)$/,
    },
    {
      name: 'older than twice the interval',
      every: 900,
      record: rec({ lastSuccess: pass(31), last: pass(1, 'refused') }),
      ok: false,
      text: /^j: no successful pass for 31 minutes \(allowed 30 minutes\); last pass refused$/,
    },
    {
      name: 'partial passes are not successes',
      every: 900,
      record: rec({ lastSuccess: pass(45), lastCompleted: pass(5, 'partial'), last: pass(5, 'partial') }),
      ok: false,
      text: /no successful pass for 45 minutes.*last pass partial/,
    },
    {
      name: '--max-age overrides the interval',
      every: 900,
      record: rec({ lastSuccess: pass(45) }),
      maxAge: 3600,
      ok: true,
      text: /allowed 60 minutes/,
    },
    {
      name: 'records from before lastSuccess: an ok lastCompleted counts',
      every: 900,
      record: rec({ lastCompleted: pass(10) }),
      ok: true,
      text: /last successful pass 10 minutes ago/,
    },
    {
      name: 'never successful: counted from when it was scheduled (fresh)',
      every: 900,
      record: rec({ scheduledAt: ago(5) }),
      ok: true,
      text: /scheduled 5 minutes ago, no pass yet/,
    },
    {
      name: 'never successful, scheduled long ago',
      every: 60,
      record: rec({ scheduledAt: ago(3) }),
      ok: false,
      text: /no successful pass since it was scheduled 3 minutes ago \(allowed 2 minutes\)/,
    },
    { name: 'no record at all', every: 60, record: rec({}), ok: false, text: /no successful pass recorded/ },
    { name: 'an entry changed by hand', record: rec({ lastSuccess: pass(1) }), ok: false, text: /changed by hand/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = checkJob('j', c.every, c.record, now, c.maxAge);
      expect(r.ok).toBe(c.ok);
      expect(r.text).toMatch(c.text);
    });
  }

  it('--max-age forms', () => {
    expect([
      parseMaxAge('90s'),
      parseMaxAge('30m'),
      parseMaxAge('2h'),
      parseMaxAge('1d'),
      parseMaxAge('1w'),
      parseMaxAge('2 hours'),
      parseMaxAge('45min'),
    ]).toEqual([90, 1800, 7200, 86_400, 604_800, 7200, 2700]);
    for (const bad of ['', '2', 'h', '2x', '-1h', '0m', '400d']) expect(() => parseMaxAge(bad), bad).toThrowError();
    expect([ageWords(59), ageWords(150), ageWords(7300), ageWords(200_000)]).toEqual(['59 seconds', '2 minutes', '2 hours', '2 days']);
  });
});
