/** What a scheduler backend (crontab, Task Scheduler) offers `scheduler.ts`: install, remove and list our jobs. */
import type { Invocation } from './cron.js';
import type { DueRule } from './due.js';
import type { JobSpec } from './jobs.js';

export interface InstallResult {
  /** A job of that name existed and was replaced. */
  replaced: boolean;
  /** The scheduler's own schedule: a cron expression, or "MINUTE /MO 7". */
  timing: string;
  /** True when the scheduler alone keeps the spacing exact (no due-check). */
  exact: boolean;
}

/** A job as read back from the OS scheduler. */
export interface InstalledJob {
  name: string;
  backend: 'crontab' | 'schtasks';
  timing: string;
  /** Undefined when the entry is ours by its tag but cannot be read (edited by hand). */
  spec?: JobSpec & { rule: DueRule };
  /** The scheduler's next firing strictly after a moment, when it can be computed here. */
  nextFiring?: (afterMs: number) => number;
  /** What the scheduler itself reports as the next run (Task Scheduler). */
  nextRunText?: string;
  /** The state folder baked into the entry (where its passes keep their record). */
  stateDir?: string;
}

export interface SchedulerBackend {
  name: 'crontab' | 'schtasks';
  install(job: JobSpec, inv: Invocation): Promise<InstallResult>;
  /**
   * `stateDir`, for remove and list as for install (`inv.stateDir`): the state folder of this invocation, where
   * Task Scheduler's wrapper scripts are. Crontab lines carry their own state folder and ignore it.
   */
  remove(names: readonly string[] | 'all', stateDir: string): Promise<string[]>;
  list(stateDir: string): Promise<InstalledJob[]>;
}
