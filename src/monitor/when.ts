import cron from 'node-cron';

/** A schedule's time: the 5-field cron node-cron runs, and the words it was given as. */
export interface When {
  cron: string;
  words: string;
}

const DAYS: Record<string, number> = { sunday: 0, sun: 0, monday: 1, mon: 1, tuesday: 2, tue: 2, wednesday: 3, wed: 3, thursday: 4, thu: 4, friday: 5, fri: 5, saturday: 6, sat: 6 };
const SAID = 'say a time such as `day 03:00`, `sunday 04:00`, `weekday 08:30`, `monday,thursday 22:00`, `hour`, `hour :15`, `30 minutes`, or a 5-field cron in quotes (`"0 3 * * *"`)';

/**
 * Reads `every <when>`: a few plain phrases, or a 5-field cron validated by node-cron itself.
 * Anything else is refused with what it does understand, never guessed at.
 */
export function parseWhen(text: string): When | { error: string } {
  const words = text.trim().replace(/\s+/g, ' ');
  if (!words) return { error: `every needs a time: ${SAID}` };
  const fields = words.split(' ');
  if (fields.length === 5 && /^[\d*]/.test(fields[0]!)) {
    const d = cron.validateDetailed(words);
    if (!d.valid) return { error: `\`${words}\` is not a valid cron: ${d.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}` };
    return { cron: words, words };
  }
  const lower = words.toLowerCase();
  let m = /^(\d{1,3}) ?(?:minutes?|mins?|m)$/.exec(lower);
  if (m) {
    const n = Number(m[1]);
    if (n < 1 || n > 59 || 60 % n !== 0) return { error: `every ${n} minutes: use a divisor of 60 from 1 to 30 (5, 10, 15, 20, 30), or a cron in quotes` };
    return { cron: `*/${n} * * * *`, words };
  }
  m = /^(?:hour|hourly)(?: (?:at )?:?(\d{1,2}))?$/.exec(lower);
  if (m) {
    const minute = Number(m[1] ?? 0);
    if (minute > 59) return { error: `:${m[1]} is not a minute (0 to 59)` };
    return { cron: `${minute} * * * *`, words };
  }
  m = /^([a-z,]+) (?:at )?(\d{1,2}):(\d{2})$/.exec(lower);
  if (!m) return { error: `cannot read \`${words.slice(0, 60)}\` as a time: ${SAID}` };
  const [, dayWords, hh, mm] = m;
  const hour = Number(hh);
  const minute = Number(mm);
  if (hour > 23 || minute > 59) return { error: `${hh}:${mm} is not a time of day (00:00 to 23:59)` };
  let dow: string;
  if (dayWords === 'day' || dayWords === 'daily') dow = '*';
  else if (dayWords === 'weekday' || dayWords === 'weekdays') dow = '1-5';
  else if (dayWords === 'weekend' || dayWords === 'weekends') dow = '0,6';
  else {
    const days = dayWords!.split(',').filter(Boolean).map((d) => DAYS[d.replace(/s$/, '')] ?? DAYS[d]);
    if (!days.length || days.some((d) => d === undefined)) return { error: `\`${dayWords}\` is not a day: use day, weekday, weekend or day names (sunday … saturday, comma-separated)` };
    dow = [...new Set(days)].sort().join(',');
  }
  return { cron: `${minute} ${hour} * * ${dow}`, words };
}
