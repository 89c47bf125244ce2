// The breakdown panels. Each is a set of tabs over Stats API queries, of which only the selected
// tab is asked for; its choice is kept in the URL (tab_PANEL=TAB). A click on a row filters the
// whole dashboard by it; each panel links its rows as a CSV file. Server values are set as text.
import { element } from "./dom.js";

/// 65 seconds read "1m 5s"; no value (no engagement reported), "—".
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const m = Math.floor(seconds / 60);
  return m > 0 ? `${m}m ${Math.round(seconds % 60)}s` : `${Math.round(seconds)}s`;
}

const utm = (field) => ({
  id: `utm_${field}`,
  label: `UTM ${field}`,
  dimensions: [`visit:utm_${field}`],
  // Visits without the tag are most visits: they are left out, as Plausible does.
  hide: "(not set)",
});

// A tab: its dimensions (the row's name joins their values), metrics (visitors by default),
// and filters added to the dashboard's.
const PANELS = [
  { id: "pages", title: "Pages", tabs: [
    { id: "top", label: "Top pages", dimensions: ["event:page"], metrics: ["visitors", "pageviews"] },
    { id: "entry", label: "Entry pages", dimensions: ["visit:entry_page"] },
    { id: "exit", label: "Exit pages", dimensions: ["visit:exit_page"] },
    // Engagement reads every report of the period, per visit and page: asked for when shown
    // (0.3–0.5 s over 30 days of 10M events, where every other tab takes under 0.1 s).
    { id: "time", label: "Time on page", dimensions: ["event:page"], metrics: ["visitors", "time_on_page", "scroll_depth"] },
  ] },
  { id: "sources", title: "Sources", tabs: [
    { id: "channels", label: "Channels", dimensions: ["visit:channel"] },
    { id: "sources", label: "Sources", dimensions: ["visit:source"] },
    { id: "referrers", label: "Referrers", dimensions: ["visit:referrer"] },
    ...["source", "medium", "campaign", "content", "term"].map(utm),
  ] },
  { id: "locations", title: "Locations", tabs: [
    { id: "countries", label: "Countries", dimensions: ["visit:country_name"] },
    { id: "regions", label: "Regions", dimensions: ["visit:region"] },
    { id: "cities", label: "Cities", dimensions: ["visit:city"] },
  ] },
  { id: "devices", title: "Devices", tabs: [
    { id: "browsers", label: "Browsers", dimensions: ["visit:browser"] },
    { id: "browser_versions", label: "Browser versions", dimensions: ["visit:browser", "visit:browser_version"] },
    { id: "os", label: "OS", dimensions: ["visit:os"] },
    { id: "os_versions", label: "OS versions", dimensions: ["visit:os", "visit:os_version"] },
    { id: "devices", label: "Devices", dimensions: ["visit:device"] },
  ] },
  { id: "goals", title: "Goals & events", tabs: [
    { id: "goals", label: "Goals", dimensions: ["event:goal"], metrics: ["visitors", "events", "conversion_rate"] },
    { id: "events", label: "Custom events", dimensions: ["event:name"], metrics: ["visitors", "events"],
      filters: [["is_not", "event:name", ["pageview", "engagement"]]] },
    { id: "props", label: "Props", props: true, metrics: ["visitors", "events"] },
  ] },
];
const DROPPED = { id: "dropped", title: "Dropped events", tabs: [] };

const COLUMNS = {
  visitors: ["Visitors", (v) => Number(v).toLocaleString()],
  pageviews: ["Pageviews", (v) => Number(v).toLocaleString()],
  events: ["Events", (v) => Number(v).toLocaleString()],
  time_on_page: ["Time on page", duration],
  scroll_depth: ["Scroll depth", (v) => (v === null ? "—" : `${v}%`)],
  conversion_rate: ["Conversion rate", (v) => (v === null ? "—" : `${v}%`)],
};

const NAMES = {
  "event:page": "Page", "event:name": "Event", "event:goal": "Goal", "event:hostname": "Hostname",
  "visit:entry_page": "Entry page", "visit:exit_page": "Exit page", "visit:channel": "Channel",
  "visit:source": "Source", "visit:referrer": "Referrer", "visit:utm_source": "UTM source",
  "visit:utm_medium": "UTM medium", "visit:utm_campaign": "UTM campaign",
  "visit:utm_content": "UTM content", "visit:utm_term": "UTM term", "visit:country": "Country",
  "visit:country_name": "Country", "visit:region": "Region", "visit:city": "City",
  "visit:browser": "Browser", "visit:browser_version": "Browser version",
  "visit:os": "Operating system", "visit:os_version": "OS version", "visit:device": "Device",
};

/// A filter's dimension as a chip names it: "Exit page", "Property plan".
export function filterName(dimension) {
  if (dimension.startsWith("event:props:")) return `Property ${dimension.slice("event:props:".length)}`;
  return Object.hasOwn(NAMES, dimension) ? NAMES[dimension] : dimension;
}

/// The panels, drawn once into `container`; `ctx` holds what they need of the page:
/// post(path, body), exportHref(query, name), pick(filters), selectTab(panel, tab),
/// selectProp(key), settingsHref(), and share (true on a shared link: no dropped events).
export function setupPanels(container, ctx) {
  const panels = ctx.share ? PANELS : [...PANELS, DROPPED];
  const parts = new Map();
  let loads = 0;

  for (const panel of panels) {
    const section = element("section", undefined, { class: "panel", "data-panel": panel.id, "aria-labelledby": `h-${panel.id}` });
    const head = element("div", undefined, { class: "panel-head" });
    const link = element("a", "Export CSV", { class: "export", download: "", hidden: "" });
    const linkName = element("span", "", { class: "visually-hidden" });
    link.append(linkName);
    head.append(element("h2", panel.title, { id: `h-${panel.id}` }), link);
    const body = element("div", undefined, { id: `tp-${panel.id}`, class: "tabpanel" });
    section.append(head);
    const tabs = panel.tabs.map((tab) =>
      element("button", tab.label, {
        type: "button", role: "tab", id: `tab-${panel.id}-${tab.id}`, "aria-controls": body.id,
        "aria-selected": "false", tabindex: "-1", "data-tab": tab.id,
      }),
    );
    if (tabs.length) {
      const list = element("div", undefined, { role: "tablist", "aria-label": panel.title, class: "tabs" });
      list.append(...tabs);
      tabs.forEach((button, i) => {
        button.addEventListener("click", () => ctx.selectTab(panel.id, panel.tabs[i].id));
        button.addEventListener("keydown", (e) => {
          const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
          if (to === undefined) return;
          e.preventDefault();
          const next = (to + tabs.length) % tabs.length;
          tabs[next].focus();
          ctx.selectTab(panel.id, panel.tabs[next].id);
        });
      });
      section.append(list);
      body.setAttribute("role", "tabpanel");
      body.setAttribute("tabindex", "0");
    }
    section.append(body);
    container.append(section);
    parts.set(panel.id, { panel, section, tabs, body, link, linkName, load: 0 });
  }

  /// Shows the tab the URL selects in one panel, and fills it; resolves when it is drawn.
  async function load(id, view) {
    const part = parts.get(id);
    const { panel, section, tabs, body, link, linkName } = part;
    const asked = view.now.tabs[id];
    const tab = panel.tabs.find((t) => t.id === asked) ?? panel.tabs[0];
    const run = (part.load = ++loads);
    delete section.dataset.loaded;
    tabs.forEach((button, i) => {
      const on = panel.tabs[i] === tab;
      button.setAttribute("aria-selected", String(on));
      button.setAttribute("tabindex", on ? "0" : "-1");
    });
    if (tab) body.setAttribute("aria-labelledby", `tab-${id}-${tab.id}`);
    // The existing selectors (and tests) find a panel by what it shows.
    section.dataset.dimension = tab ? tab.dimensions?.at(-1) ?? "event:props" : "dropped";
    const content = [];
    try {
      if (!tab) {
        const answer = await ctx.post("dropped", { site_id: view.site, date_range: view.range });
        if (part.load !== run) return;
        content.push(droppedTable(answer.results));
        link.hidden = true;
      } else {
        let key = null;
        if (tab.props) {
          const { keys } = await ctx.post("prop_keys", { site_id: view.site, date_range: view.range, filters: view.filters });
          if (part.load !== run) return;
          key = keys.includes(view.now.prop) ? view.now.prop : keys[0];
          if (!key) {
            body.replaceChildren(element("p", "No custom properties in this period.", { class: "muted" }));
            link.hidden = true;
            section.dataset.loaded = tab.id;
            return;
          }
          content.push(propPicker(keys, key, ctx));
        }
        const query = tabQuery(tab, view, key);
        const answer = await ctx.post("query", query);
        if (part.load !== run) return;
        content.push(answer.results.length ? table(tab, query, answer.results, view, ctx) : empty(tab, ctx));
        link.href = ctx.exportHref({ ...query, pagination: { limit: 10000 } }, key ? `${id}-${tab.id}-${key}` : `${id}-${tab.id}`);
        linkName.textContent = ` of ${key ? `property ${key}` : tab.label}`;
        link.hidden = false;
      }
    } catch (error) {
      if (part.load !== run) return;
      content.splice(0, content.length, element("p", `Could not load this panel (${error.message}).`, { class: "muted" }));
      link.hidden = true;
    }
    body.replaceChildren(...content);
    section.dataset.loaded = tab ? tab.id : "dropped";
  }

  return {
    load,
    loadAll: (view) => Promise.all(panels.map((panel) => load(panel.id, view))),
  };
}

/// The Stats API query of a tab: ten rows, the dashboard's filters and the tab's own.
function tabQuery(tab, view, key) {
  const dimensions = tab.props ? [`event:props:${key}`] : tab.dimensions;
  const filters = [...view.filters, ...(tab.filters ?? [])];
  if (tab.hide) filters.push(["is_not", dimensions[0], [tab.hide]]);
  // Events without the prop are not a value of it.
  if (tab.props) filters.push(["is_not", dimensions[0], ["(none)"]]);
  return {
    site_id: view.site,
    date_range: view.range,
    metrics: tab.metrics ?? ["visitors"],
    dimensions,
    filters,
    pagination: { limit: 10 },
  };
}

function table(tab, query, rows, view, ctx) {
  const out = element("table");
  const head = out.createTHead().insertRow();
  head.append(element("th", tab.props ? "Value" : filterName(query.dimensions.at(-1)), { scope: "col" }));
  for (const metric of query.metrics) head.append(element("th", COLUMNS[metric][0], { scope: "col" }));
  const body = out.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    const name = row.dimensions.map((v) => (v === "" ? "(none)" : v)).join(" ");
    const pick = element("button", name, { type: "button", class: "plain" });
    pick.addEventListener("click", () => ctx.pick(query.dimensions.map((d, i) => [d, row.dimensions[i]])));
    tr.insertCell().append(pick);
    query.metrics.forEach((metric, i) => {
      tr.insertCell().textContent = COLUMNS[metric][1](row.metrics[i]);
    });
  }
  return out;
}

function empty(tab, ctx) {
  const note = element("p", "Nothing yet", { class: "muted" });
  if (tab.id === "goals") {
    note.textContent = "No conversions in this period.";
    if (!ctx.share) {
      note.append(" Goals are set up in ", element("a", "Settings", { href: ctx.settingsHref() }), ".");
    }
  }
  return note;
}

function propPicker(keys, key, ctx) {
  const label = element("label", "Property ", { class: "prop-pick" });
  const select = element("select");
  for (const k of keys) select.append(element("option", k, { value: k }));
  select.value = key;
  select.addEventListener("change", () => ctx.selectProp(select.value));
  label.append(select);
  return label;
}

/// Events the collector dropped, by reason: not a breakdown of visits, so not clickable.
function droppedTable(results) {
  if (!results.length) return element("p", "Nothing dropped in this period.", { class: "muted" });
  const out = element("table");
  const head = out.createTHead().insertRow();
  head.append(element("th", "Reason", { scope: "col" }), element("th", "Events", { scope: "col" }));
  const body = out.createTBody();
  for (const row of results) {
    const tr = body.insertRow();
    tr.insertCell().textContent = row.reason;
    tr.insertCell().textContent = Number(row.events).toLocaleString();
  }
  return out;
}
