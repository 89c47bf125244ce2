// Periods as the dashboard's URL names them, as the Stats API's date_range, and the time
// buckets that make sense for each. Dates are "YYYY-MM-DD" in the site's time zone: "yesterday"
// and "last_month" are sent as explicit days, so a bookmark stays relative but the days asked
// for are the site's, whatever the browser's zone.

const DAY_MS = 86_400_000;

/// Today's date in `timeZone` (UTC when the zone is unknown to the browser).
export function today(timeZone, now = new Date()) {
  let format;
  try {
    format = new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
  } catch {
    format = new Intl.DateTimeFormat("en-US", { timeZone: "UTC", year: "numeric", month: "2-digit", day: "2-digit" });
  }
  const part = Object.fromEntries(format.formatToParts(now).map((p) => [p.type, p.value]));
  return `${part.year}-${part.month}-${part.day}`;
}

const utc = (date) => Date.parse(`${date}T00:00:00Z`);
const iso = (ms) => new Date(ms).toISOString().slice(0, 10);
const addDays = (date, n) => iso(utc(date) + n * DAY_MS);
/// The first day of the month `back` months before `date`'s.
function monthStart(date, back = 0) {
  const d = new Date(utc(date));
  return iso(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - back, 1));
}

/// A custom range is "from,to" in the URL, both days included.
export const isCustom = (period) => /^\d{4}-\d{2}-\d{2},\d{4}-\d{2}-\d{2}$/.test(period);

/// The first and last day of a period (both included), as the server resolves them; null for
/// "all", which starts at the site's first event.
export function bounds(period, day) {
  const last = (n) => [addDays(day, -n), addDays(day, -1)];
  const months = (n) => [monthStart(day, n), addDays(monthStart(day), -1)];
  switch (period) {
    case "day": return [day, day];
    case "yesterday": return [addDays(day, -1), addDays(day, -1)];
    case "7d": return last(7);
    case "28d": return last(28);
    case "30d": return last(30);
    case "91d": return last(91);
    case "month": return [monthStart(day), addDays(monthStart(day, -1), -1)];
    case "last_month": return months(1);
    case "6mo": return months(6);
    case "12mo": return months(12);
    case "year": return [`${day.slice(0, 4)}-01-01`, `${day.slice(0, 4)}-12-31`];
    default: return isCustom(period) ? period.split(",") : null;
  }
}

/// The Stats API's date_range for a period: its own name when the API has one.
export function dateRange(period, day) {
  if (period === "yesterday" || period === "last_month" || isCustom(period)) return bounds(period, day);
  return period;
}

/// How many days a period covers (Infinity for "all").
export function spanDays(period, day) {
  const range = bounds(period, day);
  return range ? Math.round((utc(range[1]) - utc(range[0])) / DAY_MS) + 1 : Infinity;
}

export const INTERVALS = [
  ["hour", "Hours"],
  ["day", "Days"],
  ["week", "Weeks"],
  ["month", "Months"],
];

/// The buckets worth offering: no hours over more than a month, no single-bucket weeks or months.
export function intervals(days) {
  return INTERVALS.map(([id]) => id).filter(
    (id) => ({ hour: days <= 31, day: days >= 2, week: days >= 14, month: days >= 60 })[id],
  );
}

/// Hours for a day, days up to about three months, months beyond; or the one asked for, if it
/// is offered.
export function interval(asked, days) {
  if (intervals(days).includes(asked)) return asked;
  return days <= 1 ? "hour" : days <= 92 ? "day" : "month";
}
