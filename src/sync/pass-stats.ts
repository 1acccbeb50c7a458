/** The running totals of one mirror pass: what the summary line, the progress line and job records show. */
export interface SyncStats {
  /** Source entries examined so far. */
  checked: number;
  created: number;
  updated: number;
  removed: number;
  failed: number;
  skipped: number;
  bytes: number;
}

export function emptyStats(): SyncStats {
  return { checked: 0, created: 0, updated: 0, removed: 0, failed: 0, skipped: 0, bytes: 0 };
}
