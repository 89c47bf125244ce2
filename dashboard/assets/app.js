// The dashboard, for a signed-in owner at / and read-only for a shared link at /share/TOKEN.
// The whole view (site, period, comparison, buckets, filters, tabs) is in the URL, so it can be
// bookmarked; every number comes from the Stats API's engine (POST …/query). Every value from
// the server is set with textContent or setAttribute, never parsed as HTML.
import { drawChart } from "./chart.js";
import { dateRange, bounds, interval, intervals, isCustom, spanDays, today, INTERVALS } from "./period.js";
import { $, element } from "./dom.js";
import { duration, filterName, setupPanels } from "./panels.js";

const TOP_LINE = [
  ["visitors", "Visitors"],
  ["visits", "Visits"],
  ["pageviews", "Pageviews"],
  ["views_per_visit", "Views per visit"],
  ["bounce_rate", "Bounce rate", (v) => `${v}%`],
  ["visit_duration", "Visit duration", duration],
];
const METRICS = { visitors: "Visitors", pageviews: "Pageviews" };

// On a shared link, the token is in the path and goes with every request in a header.
const share = location.pathname.startsWith("/share/")
  ? decodeURIComponent(location.pathname.slice("/share/".length).split("/")[0])
  : null;
const API = share ? "/api/share" : "/api/dashboard";

/// Refused requests stop the page: to the sign-in page, or a message on a shared link.
class Refused extends Error {}

async function call(path, init = {}) {
  const headers = { accept: "application/json", ...init.headers };
  if (share) headers["x-footfall-share"] = share;
  const answer = await fetch(`${API}/${path}`, { ...init, headers });
  if (share && (answer.status === 401 || answer.status === 403 || answer.status === 404)) {
    notice("This shared link has been revoked, or needs its password again: open the link again, "
      + "or ask the site's owner for a new one.");
    throw new Refused(`${path}: ${answer.status}`);
  }
  if (!share && answer.status === 401) {
    location.assign("/login");
    throw new Refused(`${path}: 401`);
  }
  if (!answer.ok) throw new Error(`${path} failed: ${answer.status}`);
  return answer.json();
}

const post = (path, body) =>
  call(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

/// A message above the dashboard; `final` hides the dashboard, which has nothing to show.
function notice(text, final = true) {
  $("notice").textContent = text;
  $("notice").hidden = false;
  if (!final) return;
  $("notice").dataset.final = "";
  for (const part of document.querySelectorAll(".view")) part.hidden = true;
}

/// A CSV download of a Stats query (the server runs it again, with up to 10,000 rows).
function exportHref(query, name) {
  const params = new URLSearchParams(share ? { share } : {});
  params.set("q", JSON.stringify(query));
  params.set("name", name);
  return `${API}/export.csv?${params}`;
}

function state() {
  const params = new URLSearchParams(location.search);
  const filters = params.getAll("f").map((f) => {
    const cut = f.indexOf("|");
    return [f.slice(0, cut), f.slice(cut + 1)];
  }).filter(([dimension]) => dimension);
  const tabs = {};
  for (const [key, value] of params) if (key.startsWith("tab_")) tabs[key.slice(4)] = value;
  return {
    site: share ? sites[0]?.domain ?? "" : params.get("site") || "",
    period: params.get("period") || "day",
    compare: params.get("compare") || "",
    interval: params.get("interval") || "",
    metric: Object.hasOwn(METRICS, params.get("metric") ?? "") ? params.get("metric") : "visitors",
    filters,
    tabs,
    prop: params.get("prop") || "",
    embed: params.get("embed") === "true",
  };
}

function address(next) {
  const params = new URLSearchParams();
  if (!share) params.set("site", next.site);
  params.set("period", next.period);
  if (next.compare) params.set("compare", next.compare);
  if (next.interval) params.set("interval", next.interval);
  if (next.metric !== "visitors") params.set("metric", next.metric);
  for (const [dimension, value] of next.filters) params.append("f", `${dimension}|${value}`);
  for (const [panel, tab] of Object.entries(next.tabs)) params.set(`tab_${panel}`, tab);
  if (next.prop) params.set("prop", next.prop);
  if (next.embed) params.set("embed", "true");
  return `${location.pathname}?${params}`;
}

function go(next) {
  history.pushState(null, "", address(next));
  render().catch(failed);
}

/// A tab or a prop changes one panel only: the URL keeps it, nothing else is asked again.
function goPanel(next, panel) {
  history.replaceState(null, "", address(next));
  panels.load(panel, view(state()));
}

function failed(error) {
  if (error instanceof Refused) return;
  notice(`Could not load the dashboard: ${error.message}`, false);
}

let sites = [];
let panels;
let rendering = 0;

const timezone = (site) => sites.find((s) => s.domain === site)?.timezone || "UTC";

/// What every query of a render shares.
function view(now) {
  if (!now.site && sites.length) now.site = sites[0].domain;
  const day = today(timezone(now.site));
  const filters = now.filters.map(([dimension, value]) => ["is", dimension, [value]]);
  const days = spanDays(now.period, day);
  return { now, day, days, site: now.site, range: dateRange(now.period, day), filters, interval: interval(now.interval, days) };
}

async function start() {
  if (share) {
    const me = await call("me");
    sites = [me.site];
    $("title").textContent = me.site.domain;
    $("label").textContent = me.label ?? "";
    if (state().embed) {
      document.body.classList.add("embed");
      $("top").hidden = true;
    }
  } else {
    const me = await call("me");
    $("owner").textContent = `Signed in as ${me.owner}`;
    sites = me.sites;
    for (const part of document.querySelectorAll(".owner-only")) part.hidden = false;
    const select = $("site");
    for (const site of sites) select.append(element("option", site.domain, { value: site.domain }));
    $("empty").hidden = sites.length > 0;
    select.addEventListener("change", () => go({ ...state(), site: select.value, filters: [], prop: "" }));
  }
  panels = setupPanels($("panels"), {
    share: Boolean(share),
    post,
    exportHref,
    settingsHref: () => `/settings?site=${encodeURIComponent(view(state()).site)}`,
    pick(added) {
      const now = state();
      const fresh = added.filter(([d, v]) => !now.filters.some(([fd, fv]) => fd === d && fv === v));
      if (fresh.length) go({ ...now, filters: [...now.filters, ...fresh] });
    },
    selectTab: (panel, tab) => {
      const now = state();
      if ((now.tabs[panel] ?? "") !== tab) goPanel({ ...now, tabs: { ...now.tabs, [panel]: tab } }, panel);
    },
    selectProp: (key) => goPanel({ ...state(), prop: key }, "goals"),
  });
  $("period").addEventListener("change", (e) => {
    if (e.target.value === "custom") return showCustom(true);
    showCustom(false);
    go({ ...state(), period: e.target.value, interval: "" });
  });
  $("custom").addEventListener("submit", (e) => {
    e.preventDefault();
    const [from, to] = [$("from").value, $("to").value].sort();
    if (from && to) go({ ...state(), period: `${from},${to}`, interval: "" });
  });
  $("compare").addEventListener("change", (e) => go({ ...state(), compare: e.target.value }));
  $("interval").addEventListener("change", (e) => go({ ...state(), interval: e.target.value }));
  $("metric").addEventListener("change", (e) => go({ ...state(), metric: e.target.value }));
  // Current visitors, refreshed without reloading.
  setInterval(async () => {
    const site = view(state()).site;
    if (!site || document.hidden) return;
    const live = await post("query", { site_id: site, date_range: "realtime", metrics: ["visitors"] }).catch(() => null);
    const shown = document.querySelector('[data-metric="current_visitors"] dd');
    // Not if another site is shown by now.
    if (live && shown && view(state()).site === site) shown.textContent = Number(live.results[0]?.metrics[0] ?? 0).toLocaleString();
  }, 30_000);
  addEventListener("popstate", () => render().catch(failed));
  await render();
}

/// The custom range's form, filled with the period shown.
function showCustom(open) {
  const form = $("custom");
  form.hidden = !open;
  if (!open) return;
  const { now, day } = view(state());
  const [from, to] = bounds(now.period, day) ?? [day, day];
  $("from").value = from;
  $("to").value = to;
  $("from").max = $("to").max = day;
  $("from").focus();
}

async function render() {
  const run = ++rendering;
  delete document.body.dataset.loaded;
  if (!("final" in $("notice").dataset)) $("notice").hidden = true;
  const v = view(state());
  const { now } = v;
  if (!now.site) return;
  drawControls(v);
  drawFilters(now);
  const include = now.compare ? { comparisons: { mode: now.compare } } : {};
  const base = { site_id: now.site, date_range: v.range, filters: v.filters };
  const started = performance.now();
  // As in Plausible, views per visit has no meaning for a filter on single events (a page).
  const byEvent = now.filters.some(([dimension]) => dimension.startsWith("event:"));
  const shown = TOP_LINE.filter(([m]) => !(byEvent && m === "views_per_visit")).map(([m]) => m);
  const bucket = `time:${v.interval}`;
  $("export-range").href = exportHref({ ...base, metrics: shown, dimensions: [bucket], pagination: { limit: 10000 } }, "range");
  // The top line and the chart are drawn as soon as they are answered, while the panels fill.
  const headline = Promise.all([
    post("query", { ...base, metrics: shown, include }),
    post("query", { site_id: now.site, date_range: "realtime", metrics: ["visitors"] }),
    post("query", { ...base, metrics: [now.metric], dimensions: [bucket], include: { ...include, time_labels: true } }),
  ]).then(([top, live, series]) => {
    if (run !== rendering) return;
    const row = top.results[0];
    const values = Object.fromEntries(shown.map((m, i) => [m, row?.metrics[i] ?? 0]));
    const changes = row?.comparison ? Object.fromEntries(shown.map((m, i) => [m, row.comparison.change[i]])) : {};
    drawTopLine(values, changes, live.results[0]?.metrics[0] ?? 0);
    const figure = $("chart");
    drawChart(figure, series, METRICS[now.metric], v.interval);
    figure.dataset.interval = v.interval;
    figure.dataset.metric = now.metric;
  });
  await Promise.all([headline, panels.loadAll(v)]);
  if (run !== rendering) return;
  document.body.dataset.renderMs = String(Math.round(performance.now() - started));
  document.body.dataset.loaded = `${now.site} ${now.period} ${now.filters.length}${now.compare ? ` ${now.compare}` : ""}`;
}

function drawControls({ now, days, interval: chosen }) {
  if (!share) {
    $("site").value = now.site;
    $("settings").href = `/settings?site=${encodeURIComponent(now.site)}`;
  }
  const periods = $("period");
  periods.querySelector("option[data-range]")?.remove();
  if (isCustom(now.period)) {
    periods.append(element("option", now.period.replace(",", " – "), { value: now.period, "data-range": "" }));
  } else if (![...periods.options].some((o) => o.value === now.period)) {
    periods.append(element("option", now.period, { value: now.period, "data-range": "" }));
  }
  periods.value = now.period;
  $("compare").value = now.compare;
  $("metric").value = now.metric;
  const offered = intervals(days);
  $("interval").replaceChildren(
    ...INTERVALS.filter(([id]) => offered.includes(id) || id === chosen)
      .map(([id, label]) => element("option", label, { value: id })),
  );
  $("interval").value = chosen;
}

function drawFilters(now) {
  const list = $("filters");
  list.replaceChildren();
  now.filters.forEach(([dimension, value], i) => {
    const text = `${filterName(dimension)} is ${value === "" ? "(none)" : value}`;
    const chip = element("li");
    const remove = element("button", `${text} ✕`, { type: "button", class: "chip", "aria-label": `Remove filter ${text}` });
    remove.addEventListener("click", () => go({ ...now, filters: now.filters.filter((_, j) => j !== i) }));
    chip.append(remove);
    list.append(chip);
  });
}

function drawTopLine(values, changes, live) {
  const list = $("topline");
  list.replaceChildren();
  const add = (label, text, key, change) => {
    const item = element("div", undefined, { "data-metric": key });
    item.append(element("dt", label), element("dd", text));
    if (change !== undefined && change !== null) {
      // Bounce rate changes in points; lower is better there.
      const unit = key === "bounce_rate" ? " pts" : "%";
      const good = key === "bounce_rate" ? change < 0 : change > 0;
      const sign = change > 0 ? "+" : change < 0 ? "−" : "±";
      item.append(element("span", `${sign}${Math.abs(change)}${unit}`, { class: `change ${change === 0 ? "" : good ? "up" : "down"}` }));
    }
    list.append(item);
  };
  add("Current visitors", live.toLocaleString(), "current_visitors");
  for (const [key, label, format] of TOP_LINE) {
    const value = values[key];
    const text = value === undefined ? "—" : format ? format(value) : Number(value).toLocaleString();
    add(label, text, key, changes[key]);
  }
}

start().catch(failed);
