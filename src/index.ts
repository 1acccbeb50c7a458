/** The public API, for people who embed folder-sync instead of running the CLI. */
export { syncOnce, type SyncOptions, type SyncResult } from './sync/sync-once.js';
export type { SyncStats } from './sync/pass-stats.js';
export { planDir, type Step, type PlanOptions } from './sync/plan.js';
export { listDir, type Entry } from './sync/entry.js';
export { checkPassPaths, type PassPaths } from './sync/guards.js';
export { ReplicaLock, isLocked, type LockRecord } from './sync/lock.js';
export { stateDir } from './state.js';
export { createLogger, ConsoleReporter, FileReporter, formatEvent, type LogEvent, type LogFormat } from './log.js';
export { ExitCode, FolderSyncError, UsageError, RefusedError, BusyError, OperationError } from './errors.js';
export { runForeground, type RunOptions, type RunSummary, type PassOutcome } from './run/runner.js';
export { runLoop, msUntilDue, systemClock, type LoopClock, type Instant } from './run/loop.js';
export { parseInterval, intervalFromSeconds, type Interval, type IntervalUnit } from './schedule/interval.js';
export {
  scheduleJob,
  unscheduleJobs,
  listJobs,
  backendFor,
  type ScheduleRequest,
  type ScheduleOutcome,
  type JobStatus,
  type ListResult,
  type SchedulerBackend,
} from './schedule/scheduler.js';
export { cronTiming, buildCronLine, shQuote, cronEscape } from './schedule/cron.js';
export { schtasksTiming, buildCreateArgs, buildWrapperCmd, buildWrapperVbs } from './schedule/schtasks.js';
export { readJobRecord, type JobRecord, type PassRecord } from './schedule/record.js';
