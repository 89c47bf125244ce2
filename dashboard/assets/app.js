// The owner's dashboard. Its whole state (site, period, filters) is in the URL, so a view can be
// bookmarked and shared; every number comes from POST /api/dashboard/query, the Stats API's
// engine. Every value from the server is set with textContent, never parsed as HTML.
import { drawChart } from "./chart.js";

const TOP_LINE = [
  ["visitors", "Visitors"],
  ["visits", "Visits"],
  ["pageviews", "Pageviews"],
  ["views_per_visit", "Views per visit"],
  ["bounce_rate", "Bounce rate", (v) => `${v}%`],
  ["visit_duration", "Visit duration", duration],
];
// [dimension, panel title, column name]
const PANELS = [
  ["event:page", "Top pages", "Page"],
  ["visit:entry_page", "Entry pages", "Page"],
  ["visit:source", "Sources", "Source"],
  ["visit:channel", "Channels", "Channel"],
  ["visit:country_name", "Countries", "Country"],
  ["visit:browser", "Browsers", "Browser"],
  ["visit:os", "Operating systems", "System"],
  ["visit:device", "Devices", "Device"],
];

function duration(seconds) {
  const m = Math.floor(seconds / 60);
  return m > 0 ? `${m}m ${Math.round(seconds % 60)}s` : `${Math.round(seconds)}s`;
}

function state() {
  const params = new URLSearchParams(location.search);
  const filters = params.getAll("f").map((f) => {
    const cut = f.indexOf("|");
    return [f.slice(0, cut), f.slice(cut + 1)];
  }).filter(([dimension]) => dimension);
  const compare = params.get("compare") || "";
  return { site: params.get("site") || "", period: params.get("period") || "day", compare, filters };
}

function go(next) {
  const params = new URLSearchParams();
  params.set("site", next.site);
  params.set("period", next.period);
  if (next.compare) params.set("compare", next.compare);
  for (const [dimension, value] of next.filters) params.append("f", `${dimension}|${value}`);
  history.pushState(null, "", `/?${params}`);
  render();
}

async function query(body) {
  const answer = await fetch("/api/dashboard/query", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (answer.status === 401) location.assign("/login");
  if (!answer.ok) throw new Error(`query failed: ${answer.status}`);
  return answer.json();
}

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  return node;
}

let sites = [];

async function start() {
  const answer = await fetch("/api/dashboard/me", { headers: { accept: "application/json" } });
  if (answer.status === 401) return location.assign("/login");
  const me = await answer.json();
  document.getElementById("owner").textContent = `Signed in as ${me.owner}`;
  sites = me.sites;
  const select = document.getElementById("site");
  for (const site of sites) select.append(element("option", site.domain, { value: site.domain }));
  document.getElementById("empty").hidden = sites.length > 0;
  select.addEventListener("change", () => go({ ...state(), site: select.value, filters: [] }));
  document.getElementById("period").addEventListener("change", (e) => go({ ...state(), period: e.target.value }));
  document.getElementById("compare").addEventListener("change", (e) => go({ ...state(), compare: e.target.value }));
  // Current visitors, refreshed without reloading.
  setInterval(async () => {
    const now = state();
    const site = now.site || sites[0]?.domain;
    if (!site || document.hidden) return;
    const live = await query({ site_id: site, date_range: "realtime", metrics: ["visitors"] });
    const shown = document.querySelector('[data-metric="current_visitors"] dd');
    if (shown) shown.textContent = Number(live.results[0]?.metrics[0] ?? 0).toLocaleString();
  }, 30_000);
  addEventListener("popstate", render);
  await render();
}

async function render() {
  const now = state();
  if (!now.site && sites.length) now.site = sites[0].domain;
  if (!now.site) return;
  document.getElementById("site").value = now.site;
  const periods = document.getElementById("period");
  if (![...periods.options].some((o) => o.value === now.period)) {
    periods.append(element("option", now.period.replace(",", " – "), { value: now.period }));
  }
  periods.value = now.period;
  document.getElementById("compare").value = now.compare;
  const include = now.compare ? { comparisons: { mode: now.compare } } : {};
  const filters = now.filters.map(([dimension, value]) => ["is", dimension, [value]]);
  // A custom range is "from,to" in the URL, dates both included.
  const custom = now.period.includes(",") ? now.period.split(",") : null;
  const base = { site_id: now.site, date_range: custom ?? now.period, filters };
  drawFilters(now);
  const bucket = now.period === "day" ? "time:hour" : ["6mo", "12mo", "year", "all"].includes(now.period) ? "time:month" : "time:day";
  const started = performance.now();
  // As in Plausible, views per visit has no meaning for a filter on single events (a page).
  const byEvent = now.filters.some(([dimension]) => dimension.startsWith("event:"));
  const shown = TOP_LINE.filter(([m]) => !(byEvent && m === "views_per_visit")).map(([m]) => m);
  const [top, live, series, ...panels] = await Promise.all([
    query({ ...base, metrics: shown, include }),
    query({ site_id: now.site, date_range: "realtime", metrics: ["visitors"] }),
    query({ ...base, metrics: ["visitors"], dimensions: [bucket], include: { ...include, time_labels: true } }),
    ...PANELS.map(([dimension]) =>
      query({ ...base, metrics: ["visitors"], dimensions: [dimension], pagination: { limit: 10 } }),
    ),
  ]);
  const row = top.results[0];
  const values = Object.fromEntries(shown.map((m, i) => [m, row?.metrics[i] ?? 0]));
  const changes = row?.comparison
    ? Object.fromEntries(shown.map((m, i) => [m, row.comparison.change[i]]))
    : {};
  drawTopLine(values, changes, live.results[0]?.metrics[0] ?? 0);
  drawChart(document.getElementById("chart"), series, "Visitors");
  drawPanels(now, panels);
  document.body.dataset.renderMs = String(Math.round(performance.now() - started));
  document.body.dataset.loaded = `${now.site} ${now.period} ${now.filters.length}${now.compare ? ` ${now.compare}` : ""}`;
}

function drawFilters(now) {
  const list = document.getElementById("filters");
  list.replaceChildren();
  now.filters.forEach(([dimension, value], i) => {
    const name = PANELS.find(([d]) => d === dimension)?.[1] ?? dimension;
    const chip = element("li");
    const remove = element("button", `${name} is ${value} ✕`, { type: "button", class: "chip", "aria-label": `Remove filter ${name} is ${value}` });
    remove.addEventListener("click", () => go({ ...now, filters: now.filters.filter((_, j) => j !== i) }));
    chip.append(remove);
    list.append(chip);
  });
}

function drawTopLine(values, changes, live) {
  const list = document.getElementById("topline");
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

function drawPanels(now, answers) {
  const container = document.getElementById("panels");
  container.replaceChildren();
  PANELS.forEach(([dimension, title, column], i) => {
    const panel = element("section", undefined, { class: "panel", "data-dimension": dimension });
    panel.append(element("h2", title));
    const table = element("table");
    const head = table.createTHead().insertRow();
    head.append(element("th", column, { scope: "col" }), element("th", "Visitors", { scope: "col" }));
    const body = table.createTBody();
    for (const row of answers[i].results) {
      const value = row.dimensions[0];
      const tr = body.insertRow();
      const cell = tr.insertCell();
      const pick = element("button", value === "" ? "(none)" : value, { type: "button", class: "plain" });
      pick.addEventListener("click", () => {
        if (!now.filters.some(([d, v]) => d === dimension && v === value)) {
          go({ ...now, filters: [...now.filters, [dimension, value]] });
        }
      });
      cell.append(pick);
      tr.insertCell().textContent = Number(row.metrics[0]).toLocaleString();
    }
    if (!answers[i].results.length) panel.append(element("p", "Nothing yet", { class: "muted" }));
    else panel.append(table);
    container.append(panel);
  });
}

start();
