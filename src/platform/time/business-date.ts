// Business dates are calendar dates in Asia/Shanghai; an instant at or after the end-of-day
// cut-off belongs to the next business date.

const shanghai = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});

/** A business date ("2026-12-01") as the value of a Postgres DATE column (UTC midnight). */
export function dateColumn(isoDate: string): Date {
  return new Date(`${isoDate}T00:00:00Z`);
}

/** A DATE column's value back as a business date string. */
export function isoDate(column: Date): string {
  return column.toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  const d = dateColumn(date);
  d.setUTCDate(d.getUTCDate() + days);
  return isoDate(d);
}

/** The last minute asked for and its Shanghai fields: every order asks, and formatToParts is slow. */
let lastMinute = NaN;
let lastParts: Record<string, string> = {};

export function businessDateOf(instant: Date, cutoff: string): string {
  const minute = Math.floor(instant.getTime() / 60_000);
  if (minute !== lastMinute) {
    lastParts = Object.fromEntries(shanghai.formatToParts(instant).map((p) => [p.type, p.value]));
    lastMinute = minute;
  }
  const parts = lastParts;
  const date = `${parts.year}-${parts.month}-${parts.day}`;
  const minutes = Number(parts.hour) * 60 + Number(parts.minute);
  const [ch, cm] = cutoff.split(':').map(Number);
  return minutes >= ch * 60 + cm ? addDays(date, 1) : date;
}

export const ISO_DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

export function isValidIsoDate(s: string): boolean {
  return ISO_DATE.test(s) && isoDate(dateColumn(s)) === s;
}
