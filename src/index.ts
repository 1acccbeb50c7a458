/**
 * The public API, for people who embed folder-sync instead of running the CLI: what the commands do, as
 * functions. Everything else in src/ is internal and may change without notice. docs/api.md lists these names;
 * test/api.test.ts fails when one is added or removed without updating that list.
 */
// One pass (sync-once).
export { syncOnce, type SyncOptions, type SyncResult } from './sync/sync-once.js';
export type { SyncStats } from './sync/pass-stats.js';
export type { FilterSpec, FilterRule } from './sync/filter.js';
// Passes in the foreground (run).
export { runForeground, type RunOptions, type RunSummary, type PassOutcome, type PassResult } from './run/runner.js';
// The OS scheduler (schedule, unschedule, list).
export { scheduleJob, unscheduleJobs, type ScheduleRequest, type ScheduleOutcome } from './schedule/scheduler.js';
export { listJobs, type ListResult, type JobStatus, type ForegroundRun } from './schedule/status.js';
export type { PassRecord } from './schedule/record.js';
export { parseInterval, type Interval, type IntervalUnit } from './schedule/interval.js';
// Logging: a consola instance over our reporters (console lines, a text or JSON Lines file).
export { createLogger, ConsoleReporter, FileReporter, type LogEvent, type LogFormat } from './log.js';
// Errors: each carries its exit code.
export { ExitCode, FolderSyncError, UsageError, RefusedError, BusyError, OperationError } from './errors.js';
