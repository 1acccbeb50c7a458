/**
 * The notifications of one pass, in order: a start ping when it starts; when it ends, the end ping (its exit
 * code), then the on-success or on-failure hook. Every outcome is a line in the pass's log (a failure a WARN);
 * nothing here throws into the pass or changes its exit code.
 */
import type { ConsolaInstance } from 'consola';
import { describeError } from '../errors.js';
import type { PassCounts } from '../schedule/record.js';
import { hookEnv, hookTimeoutMs, runHook, type HookKind } from './hooks.js';
import { PassObserver, resultOfExitCode, summaryText, type OutcomeResult, type PassSummary } from './outcome.js';
import { maskUrl, maskUrls, PingBudget, pingLimits, pingRequest, sendPing, type PingDeps, type PingLimits } from './ping.js';
import type { NotifySettings } from './settings.js';

/** Where the pass runs: the summary's header. */
export interface PassContext {
  job?: string;
  source: string;
  replica: string;
  log?: string;
}

/** How a pass ended, as far as the caller knows it; the rest comes from the pass's own log events. */
export interface PassEnd {
  exitCode: number;
  result?: OutcomeResult;
  message?: string;
  durationMs?: number;
  counts?: PassCounts;
}

/** The last notification of a job, for `list`. */
export interface NotificationRecord {
  at: string;
  ok: boolean;
  /** "ping exit 2: HTTP 200; on-failure hook: exit 0", URLs masked. */
  detail: string;
}

export interface NotifierOptions {
  limits?: PingLimits;
  hookTimeoutMs?: number;
  deps?: PingDeps;
}

export class PassNotifier {
  /** Add it to the pass's logger: it collects the first error lines and the summary event. */
  readonly observer = new PassObserver();
  private readonly limits: PingLimits;
  private readonly hookTimeout: number;
  private budget: PingBudget | undefined;
  private started = Date.now();
  private startedAt = new Date().toISOString();

  constructor(
    readonly settings: NotifySettings,
    private readonly ctx: PassContext,
    private readonly opts: NotifierOptions = {},
  ) {
    this.limits = opts.limits ?? pingLimits();
    this.hookTimeout = opts.hookTimeoutMs ?? hookTimeoutMs();
  }

  /** A pass starts: reset what the observer saw, start the budget, send the start ping (a third of the budget at most). */
  async start(log: ConsolaInstance): Promise<void> {
    this.observer.reset();
    this.started = Date.now();
    this.startedAt = new Date(this.started).toISOString();
    this.budget = new PingBudget(this.limits.budgetMs);
    const url = this.settings.url;
    const req = url ? pingRequest(url, 'start') : undefined;
    if (!url || !req) return;
    const r = await sendPing(req, this.limits, this.budget, this.limits.budgetMs / 3, this.opts.deps);
    if (r.ok) log.debug(`notification sent to ${maskUrl(url)}: start (HTTP ${r.status})`);
    else log.warn(`notification failed: ${maskUrl(url)}: start: ${r.error} after ${tries(r.attempts)}; the pass goes on`);
  }

  /** A pass ended: the end ping, then the hook. Returns what happened, for the job's record. */
  async finish(end: PassEnd, log: ConsolaInstance): Promise<NotificationRecord> {
    const summary = this.summary(end);
    const details: string[] = [];
    let ok = true;
    const url = this.settings.url;
    if (url) {
      const req = pingRequest(url, { exitCode: summary.exitCode, message: headline(summary), durationMs: summary.durationMs }, summaryText(summary));
      const budget = this.budget ?? new PingBudget(this.limits.budgetMs);
      const r = req ? await sendPing(req, this.limits, budget, Infinity, this.opts.deps) : { ok: false, attempts: 0, error: 'no request' };
      const what = `exit ${summary.exitCode}`;
      if (r.ok) {
        log.info(`notification sent to ${maskUrl(url)}: ${what} (HTTP ${r.status})`);
        details.push(`ping ${what}: HTTP ${r.status}`);
      } else {
        ok = false;
        log.warn(
          `notification failed: ${maskUrl(url)}: ${what}: ${r.error} after ${tries(r.attempts)}; the pass's exit code stays ${summary.exitCode}`,
        );
        details.push(`ping ${what}: failed (${r.error})`);
      }
    }
    const kind: HookKind = summary.exitCode === 0 ? 'on-success' : 'on-failure';
    const command = kind === 'on-success' ? this.settings.onSuccess : this.settings.onFailure;
    if (command) {
      const hook = await this.hook(kind, command, summary, log);
      ok &&= hook.ok;
      details.push(hook.detail);
    }
    return { at: new Date().toISOString(), ok, detail: details.join('; ') };
  }

  private summary(end: PassEnd): PassSummary {
    const seen = this.observer.counts();
    const ran = end.counts ?? seen?.counts;
    return {
      result: end.result ?? resultOfExitCode(end.exitCode),
      exitCode: end.exitCode,
      ...(this.ctx.job ? { job: this.ctx.job } : {}),
      source: this.ctx.source,
      replica: this.ctx.replica,
      ...(this.ctx.log ? { log: this.ctx.log } : {}),
      startedAt: this.startedAt,
      durationMs: Math.round(end.durationMs ?? seen?.durationMs ?? Date.now() - this.started),
      ...(ran ? { counts: ran } : {}),
      ...(ran && seen ? { checked: seen.checked } : {}),
      ...(end.message ? { message: end.message } : {}),
      errors: this.observer.errors,
      ...(seen?.dryRun ? { dryRun: true } : {}),
    };
  }

  private async hook(kind: HookKind, command: string, summary: PassSummary, log: ConsolaInstance): Promise<{ ok: boolean; detail: string }> {
    let r;
    try {
      r = await runHook(command, hookEnv(summary, kind), summaryText(summary), this.hookTimeout);
    } catch (error) {
      r = { timedOut: false, lines: [], dropped: 0, error: describeError(error) };
    }
    for (const line of r.lines) log.info(`hook ${kind}: ${line}`);
    if (r.dropped > 0) log.warn(`hook ${kind}: ${r.dropped} more output lines not logged`);
    let detail: string;
    if (r.error !== undefined) detail = `could not be started: ${maskUrls(r.error)}`;
    else if (r.timedOut) detail = `timed out after ${(this.hookTimeout / 1000).toFixed(1)}s and was stopped`;
    else if (r.signal !== undefined) detail = `killed by ${r.signal}`;
    else detail = `exit ${r.exitCode}`;
    const ok = r.error === undefined && !r.timedOut && r.exitCode === 0;
    if (ok) log.info(`hook ${kind} finished: ${detail}`);
    else log.warn(`hook ${kind} failed: ${detail}; the pass's exit code stays ${summary.exitCode}`);
    return { ok, detail: `${kind} hook: ${detail}` };
  }
}

function tries(n: number): string {
  return n === 1 ? '1 try' : `${n} tries`;
}

/** One short line for services that take a message, not a body (Uptime Kuma's `msg`). */
export function headline(s: PassSummary): string {
  if (s.counts) {
    const c = s.counts;
    return `${s.result}: created ${c.created}, updated ${c.updated}, removed ${c.removed}, failed ${c.failed}`;
  }
  return `${s.result}${s.message ? `: ${s.message}` : ''}`;
}
