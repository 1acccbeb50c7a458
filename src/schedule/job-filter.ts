/**
 * A scheduled job's exclude flags (docs/filters.md) as words of the `sync-once` it runs, and back. Each flag is
 * one word, `--exclude=<pattern>`, so a pattern that starts with a dash can never be read as a flag.
 */
import type { FilterRule, FilterSpec } from '../sync/filter.js';
import { shQuote } from './cron.js';

export interface JobFilter {
  /** Exclude rules, ignore files, markers, case (`--exclude-from` files by absolute path). */
  filter?: FilterSpec;
  deleteExcluded?: boolean;
}

/** The flags for a job's command line, in the order the rules were given. */
export function jobFilterArgs(job: JobFilter): string[] {
  const out: string[] = [];
  for (const rule of job.filter?.rules ?? []) {
    out.push('exclude' in rule ? `--exclude=${rule.exclude}` : `--exclude-from=${rule.excludeFrom}`);
  }
  for (const name of job.filter?.ignoreFiles ?? []) out.push(`--ignore-file=${name}`);
  for (const name of job.filter?.excludeIfPresent ?? []) out.push(`--exclude-if-present=${name}`);
  if (job.filter?.ignoreCase) out.push('--ignore-case');
  if (job.deleteExcluded) out.push('--delete-excluded');
  return out;
}

/** Read the flags `jobFilterArgs` wrote back from a job's `sync-once` words. */
export function parseJobFilterArgs(words: readonly string[]): JobFilter {
  const rules: FilterRule[] = [];
  const ignoreFiles: string[] = [];
  const markers: string[] = [];
  const filter: FilterSpec = {};
  let deleteExcluded = false;
  for (const word of words) {
    const eq = word.indexOf('=');
    const [flag, value] = eq < 0 ? [word, ''] : [word.slice(0, eq), word.slice(eq + 1)];
    if (flag === '--exclude' && eq >= 0) rules.push({ exclude: value });
    else if (flag === '--exclude-from' && eq >= 0) rules.push({ excludeFrom: value });
    else if (flag === '--ignore-file' && eq >= 0) ignoreFiles.push(value);
    else if (flag === '--exclude-if-present' && eq >= 0) markers.push(value);
    else if (word === '--ignore-case') filter.ignoreCase = true;
    else if (word === '--delete-excluded') deleteExcluded = true;
  }
  if (rules.length > 0) filter.rules = rules;
  if (ignoreFiles.length > 0) filter.ignoreFiles = ignoreFiles;
  if (markers.length > 0) filter.excludeIfPresent = markers;
  const out: JobFilter = {};
  if (Object.keys(filter).length > 0) out.filter = filter;
  if (deleteExcluded) out.deleteExcluded = true;
  return out;
}

/** For `list`: the job's filter flags as one could type them again, or undefined when it has none. */
export function describeJobFilter(job: JobFilter): string | undefined {
  const words = jobFilterArgs(job).map((w) => {
    const eq = w.indexOf('=');
    return eq < 0
      ? w
      : `${w.slice(0, eq)} ${/^[\w./@:+-]+$/.test(w.slice(eq + 1)) && !w.slice(eq + 1).startsWith('-') ? w.slice(eq + 1) : shQuote(w.slice(eq + 1))}`;
  });
  return words.length > 0 ? words.join(' ') : undefined;
}
