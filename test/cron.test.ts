import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import {
  buildCronLine,
  checkJobName,
  cronEscape,
  cronTiming,
  findCronJobs,
  FOREIGN_TO_JSON,
  nextCronTime,
  parseCronCommand,
  removeCronJobs,
  shQuote,
  upsertCronJob,
} from '../src/schedule/cron.js';
import { parseInterval } from '../src/schedule/interval.js';
import { jobPassArgs, parseJobPassArgs, type JobSpec } from '../src/schedule/jobs.js';
import { cronCommandAsRun } from './_cron.js';

describe('cronTiming: exact where cron is exact, a finer grid with a due-check otherwise', () => {
  const cases: [string, string, string, boolean, number | undefined][] = [
    // interval, unit, cron expression, exact, --grid
    ['15', 'seconds', '* * * * *', false, undefined],
    ['1', 'second', '* * * * *', false, undefined],
    ['90', 'seconds', '* * * * *', false, undefined],
    ['60', 'seconds', '* * * * *', true, undefined],
    ['120', 'seconds', '*/2 * * * *', true, undefined],
    ['1', 'minute', '* * * * *', true, undefined],
    ['5', 'minutes', '*/5 * * * *', true, undefined],
    ['15', 'minutes', '*/15 * * * *', true, undefined],
    ['30', 'minutes', '*/30 * * * *', true, undefined],
    ['7', 'minutes', '* * * * *', false, 60],
    ['45', 'minutes', '*/15 * * * *', false, 900],
    ['90', 'minutes', '*/30 * * * *', false, 1800],
    ['60', 'minutes', '0 * * * *', true, undefined],
    ['1', 'hour', '0 * * * *', true, undefined],
    ['6', 'hours', '0 */6 * * *', true, undefined],
    ['12', 'hours', '0 */12 * * *', true, undefined],
    ['5', 'hours', '0 * * * *', false, 3600],
    ['9', 'hours', '0 */3 * * *', false, 10800],
    ['36', 'hours', '0 */12 * * *', false, 43200],
    ['1', 'day', '0 0 * * *', true, undefined],
    ['24', 'hours', '0 0 * * *', true, undefined],
    ['3', 'days', '0 0 * * *', false, 86400],
    ['1', 'week', '0 0 * * 0', true, undefined],
    ['7', 'days', '0 0 * * 0', true, undefined],
    ['2', 'weeks', '0 0 * * 0', false, 604800],
    ['52', 'weeks', '0 0 * * 0', false, 604800],
    ['366', 'days', '0 0 * * *', false, 86400],
  ];
  for (const [n, unit, expr, exact, grid] of cases) {
    it(`${n} ${unit} -> ${expr}${exact ? ' (exact)' : ` (grid ${grid ?? 'in-minute loop'})`}`, () => {
      const interval = parseInterval(n, unit);
      const t = cronTiming(interval.seconds);
      expect(t.expr).toBe(expr);
      expect(t.exact).toBe(exact);
      expect(t.rule.every).toBe(interval.seconds);
      expect(t.rule.grid).toBe(grid);
      if (grid !== undefined) expect(interval.seconds % grid).toBe(0);
    });
  }
});

describe('checkJobName', () => {
  for (const good of ['Photos', 'a', 'my_backup-2', 'x'.repeat(64)]) it(`accepts ${good.slice(0, 20)}`, () => expect(checkJobName(good)).toBe(good));
  for (const bad of ['', '*', 'a b', 'a/b', '..', 'x'.repeat(65), 'naïve', 'a\nb', '-', 'a;b', '$(x)']) {
    it(`refuses ${JSON.stringify(bad.slice(0, 20))}`, () => {
      if (bad === '-')
        expect(checkJobName(bad)).toBe('-'); // letters, digits, - and _ only: "-" is one of them
      else expect(() => checkJobName(bad)).toThrow(UsageError);
    });
  }
});

describe('cron line quoting survives cron and /bin/sh', () => {
  const awkward = [
    'plain',
    'with space',
    "it's",
    "''",
    'dollar $HOME and ${X}',
    'back`tick`',
    '100%',
    '%%',
    'back\\slash',
    'back\\%percent',
    'trailing\\',
    'double\\\\%',
    '"quoted"',
    'semi;colon & amp | pipe',
    '* glob ?',
    '#hash',
    'tab\there',
    'ünïcødé 日本',
    '-dash-first',
  ];
  for (const word of awkward) {
    it(`${JSON.stringify(word)} reaches the program unchanged`, () => {
      const command = cronEscape(`printf '%s\\n' ${shQuote(word)}`);
      // What cron hands to /bin/sh, then what sh hands to printf.
      const asRun = cronCommandAsRun(command);
      expect(asRun.stdin).toBe('');
      const out = execFileSync('/bin/sh', ['-c', asRun.command], { encoding: 'utf8' });
      expect(out).toBe(`${word}\n`);
    });
  }
  it('refuses a path with a line break, naming it', () => {
    const inv = { node: '/usr/bin/node', cli: '/opt/cli.js', stateDir: '/s' };
    expect(() => buildCronLine('j', '* * * * *', inv, ['sync-once', '/a\nb', '/r'], '/l')).toThrow(/line break.*"\/a\\nb"/);
    expect(() => buildCronLine('j', '* * * * *', inv, ['sync-once', '/a', '/r'], '/l\r')).toThrow(/log file path contains a line break/);
    expect(() => buildCronLine('j', '* * * * *', { ...inv, stateDir: '/s\n' }, [], '/l')).toThrow(UsageError);
  });
});

const job = (over: Partial<JobSpec> = {}): JobSpec => ({
  name: 'photos',
  source: "/home/u/My Photos/it's 100% $HOME",
  replica: '/mnt/back`up`/Photos\\%x',
  log: '/home/u/logs/folder sync.log',
  interval: parseInterval('7', 'minutes'),
  checksum: false,
  allowEmptySource: false,
  logFormat: 'text',
  ...over,
});
const inv = { node: '/opt/node 20/bin/node', cli: "/opt/folder-sync's/dist/cli.js", stateDir: '/home/u/.local/state/folder-sync' };

describe('buildCronLine and reading it back', () => {
  it('is one line: schedule, state folder, quoted node and cli, sync-once args, log redirection, tag', () => {
    const t = cronTiming(420);
    const line = buildCronLine('photos', t.expr, inv, jobPassArgs(job(), t.rule), job().log);
    expect(line).not.toContain('\n');
    expect(line.startsWith("* * * * * FOLDER_SYNC_STATE_DIR='/home/u/.local/state/folder-sync' '/opt/node 20/bin/node' ")).toBe(true);
    expect(line).toContain("--every 420 --grid 60 >>'/home/u/logs/folder sync.log' 2>&1 # folder-sync:job=photos");
    expect(line).not.toMatch(/[^\\]%/); // every % escaped for cron
  });

  const variants: [string, Partial<JobSpec>][] = [
    ['defaults', {}],
    ['every flag', { checksum: true, maxDelete: 0, allowEmptySource: true, logFormat: 'json', interval: parseInterval('15', 'seconds') }],
    ['plain cron', { interval: parseInterval('1', 'day'), maxDelete: 250 }],
    ['versions with both limits', { versions: { dir: "/mnt/back up/it's 100% .versions", keepDays: 30, keepVersions: 5 } }],
    ['versions without a limit', { versions: { dir: '/mnt/v' } }],
  ];
  for (const [label, over] of variants) {
    it(`round-trips the job (${label}) through the crontab text`, () => {
      const j = job(over);
      const t = cronTiming(j.interval.seconds);
      const line = buildCronLine(j.name, t.expr, inv, jobPassArgs(j, t.rule), j.log, j.logFormat);
      if (j.logFormat === 'json') expect(line).toContain(`2>&1 | ${FOREIGN_TO_JSON} >>'/home/u/logs/folder sync.log' # folder-sync:job=photos`);
      const [found] = findCronJobs(`MAILTO=""\n${line}\n`);
      expect(found?.name).toBe('photos');
      expect(found?.expr).toBe(t.expr);
      expect(found?.stateDir).toBe(inv.stateDir);
      expect(found?.argv.slice(0, 2)).toEqual([inv.node, inv.cli]);
      expect(parseJobPassArgs(found?.argv ?? [])).toEqual({ ...j, rule: t.rule });
    });
  }

  it('the installed command, run as cron runs it, gives sh exactly our argv', () => {
    const t = cronTiming(420);
    const line = buildCronLine('photos', t.expr, inv, jobPassArgs(job(), t.rule), job().log);
    const command = line.replace(/^(\S+\s+){5}/, '');
    const asRun = cronCommandAsRun(command);
    expect(asRun.stdin).toBe('');
    // Replace the program and the redirection so sh prints the words it would pass.
    const printed = execFileSync('/bin/sh', ['-c', `set -- ${asRun.command.replace(/>>.*$/, '')}; printf '%s\\n' "$@"`], { encoding: 'utf8' });
    expect(printed.trimEnd().split('\n')).toEqual([`FOLDER_SYNC_STATE_DIR=${inv.stateDir}`, inv.node, inv.cli, ...jobPassArgs(job(), t.rule)]);
  });
});

describe('crontab text edits keep foreign lines byte for byte', () => {
  const foreign = [
    '# my own crontab, hand written',
    'SHELL=/bin/bash',
    'MAILTO="me@example.org"',
    '',
    '*/5 * * * *   /usr/local/bin/backup.sh --quiet   # keep my   spacing',
    '@reboot echo "started %s" | logger',
    '0 3 * * 1-5\t/opt/weekday\\%job',
    '# folder-sync job photos: but this comment is not followed by our line',
    '15 2 * * * echo # folder-sync:job=fake but a space after the tag name',
    'trailing-spaces-line   ',
  ].join('\n');
  const lineFor = (name: string, n = '7'): string[] => {
    const j = job({ name, interval: parseInterval(n, 'minutes') });
    const t = cronTiming(j.interval.seconds);
    return [
      `# folder-sync job ${name}: ${j.interval.words} (managed by folder-sync; change it with folder-sync schedule/unschedule)`,
      buildCronLine(name, t.expr, inv, jobPassArgs(j, t.rule), j.log),
    ];
  };

  it('adds, replaces in place, removes one, removes all, and the foreign text is untouched each time', () => {
    const withNewline = `${foreign}\n`;
    const one = upsertCronJob(withNewline, 'photos', lineFor('photos'));
    expect(one.startsWith(withNewline)).toBe(true);
    expect(findCronJobs(one).map((j) => j.name)).toEqual(['photos']);

    const two = upsertCronJob(`${one}# a line the user added after ours\n`, 'music', lineFor('music', '5'));
    const replaced = upsertCronJob(two, 'photos', lineFor('photos', '90'));
    expect(findCronJobs(replaced).map((j) => [j.name, j.expr])).toEqual([
      ['photos', '*/30 * * * *'],
      ['music', '*/5 * * * *'],
    ]);
    // replaced in place: still before the user's later line
    expect(replaced.indexOf('folder-sync:job=photos')).toBeLessThan(replaced.indexOf('# a line the user added after ours'));
    expect(replaced.split('\n').filter((l) => l.startsWith('# folder-sync job photos: every'))).toHaveLength(1);

    const { text: noPhotos, removed } = removeCronJobs(replaced, ['photos']);
    expect(removed).toEqual(['photos']);
    expect(findCronJobs(noPhotos).map((j) => j.name)).toEqual(['music']);

    const { text: none, removed: all } = removeCronJobs(replaced, 'all');
    expect(all.sort()).toEqual(['music', 'photos']);
    expect(none).toBe(`${withNewline}# a line the user added after ours\n`);
  });

  it('a table without a final newline gets one (cron needs it) and nothing else changes', () => {
    const text = upsertCronJob(foreign, 'photos', lineFor('photos'));
    expect(text.startsWith(`${foreign}\n`)).toBe(true);
    expect(removeCronJobs(text, 'all').text).toBe(`${foreign}\n`);
  });

  it('CRLF lines and an empty table', () => {
    const crlf = '0 1 * * * echo a\r\n# note\r\n';
    expect(removeCronJobs(upsertCronJob(crlf, 'x', lineFor('x')), 'all').text).toBe(crlf);
    expect(upsertCronJob('', 'x', lineFor('x')).split('\n')).toHaveLength(3);
    expect(removeCronJobs(upsertCronJob('', 'x', lineFor('x')), ['x']).text).toBe('');
  });

  it('removing an absent name changes nothing', () => {
    const r = removeCronJobs(`${foreign}\n`, ['nope']);
    expect(r).toEqual({ text: `${foreign}\n`, removed: [] });
  });
});

describe('FOREIGN_TO_JSON (JSON logs): foreign output becomes one JSON object per line', () => {
  it('quotes, backslashes, tabs and escape codes still give valid JSON', () => {
    const text = 'Error: Cannot find module \'/x/"cli".js\'\n\tat C:\\path\x1b[31m red\n\n';
    const out = execFileSync('/bin/sh', ['-c', FOREIGN_TO_JSON], { input: text, encoding: 'utf8' });
    const lines = out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; type: string; message: string });
    expect(lines.map((l) => l.message)).toEqual(['Error: Cannot find module \'/x/"cli".js\'', '?at C:\\path?[31m red', '']);
    expect(lines.every((l) => l.level === 'error' && l.type === 'foreign')).toBe(true);
  });
});

describe('parseCronCommand', () => {
  it('reads env assignments, quoted words, and stops at the redirection', () => {
    expect(parseCronCommand(`A='1 2' 'x y' --flag 5 'p\\%q' >>'/l' 2>&1 # tag`)).toEqual({ env: { A: '1 2' }, argv: ['x y', '--flag', '5', 'p%q'] });
    expect(parseCronCommand(`'x' 2>&1 | sed -e 's/a/b/' >>'/l'`)).toEqual({ env: {}, argv: ['x'] });
  });
});

describe('nextCronTime (local time, as cron reads it)', () => {
  const at = (y: number, mo: number, d: number, h: number, mi: number, s = 0): number => new Date(y, mo - 1, d, h, mi, s).getTime();
  const cases: [string, number, number][] = [
    ['* * * * *', at(2026, 3, 10, 10, 6, 30), at(2026, 3, 10, 10, 7)],
    ['* * * * *', at(2026, 3, 10, 10, 7, 0), at(2026, 3, 10, 10, 8)],
    ['*/15 * * * *', at(2026, 3, 10, 10, 46), at(2026, 3, 10, 11, 0)],
    ['0 */6 * * *', at(2026, 3, 10, 13, 0), at(2026, 3, 10, 18, 0)],
    ['0 0 * * *', at(2026, 3, 10, 23, 59, 59), at(2026, 3, 11, 0, 0)],
    ['0 0 * * 0', at(2026, 3, 10, 12, 0), at(2026, 3, 15, 0, 0)], // 2026-03-10 is a Tuesday
  ];
  for (const [expr, after, want] of cases) {
    it(`${expr} after ${new Date(after).toString().slice(0, 24)}`, () => expect(nextCronTime(expr, after)).toBe(want));
  }
});
