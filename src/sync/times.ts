// Times as utimes/futimes/lutimes take them, wherever times are set (the access layer, apply.ts, the probe).

/**
 * The seconds value to hand to utimes/futimes/lutimes so the file lands in exactly millisecond `ms`, before
 * 1970 and after 2106 included. Node replaces a negative *number* by "now", but takes a numeric string as is;
 * libuv turns the double into (seconds, nanoseconds truncated to the microsecond). Aim at the middle of the
 * microsecond while doubles are that fine (until ~2106), at the middle of the millisecond after that, and check
 * the aim against libuv's own conversion.
 */
export function timeArg(ms: number): number | string {
  const ms0 = Math.floor(ms);
  for (const seconds of [(ms0 * 1000 + 0.5) / 1e6, (ms0 + 0.5) / 1e3]) {
    if (landsInMs(seconds) === ms0) return seconds < 0 ? String(seconds) : seconds;
  }
  const seconds = (ms0 + 0.5) / 1e3;
  return seconds < 0 ? String(seconds) : seconds;
}

/** The millisecond libuv's uv__fs_to_timespec makes of `seconds` (C truncation, microsecond floor, borrow). */
export function landsInMs(seconds: number): number {
  let sec = Math.trunc(seconds);
  let nsec = Math.trunc((seconds - sec) * 1e9);
  nsec -= nsec % 1000;
  if (nsec < 0) {
    nsec += 1e9;
    sec -= 1;
  }
  return sec * 1000 + Math.floor(nsec / 1e6);
}
