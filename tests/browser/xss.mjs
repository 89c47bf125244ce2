// The XSS drill's browser half (tests/xss_browser.rs sends the payloads first). Opens the owner's
// dashboard in Debian's Chromium with alert, confirm, prompt, print and open replaced before any
// page script runs, dialogs counted and dismissed, Content-Security-Policy violations reported,
// and every request to another origin recorded and aborted; then walks the dashboard (every
// option of every control, every [role=tab], the first row of every tab and panel clicked into a
// filter, rows and chart points hovered, payload filters and parameters in the URL, /settings
// when it exists, with a payload goal and a payload-labelled shared link made there), then the
// same walk through the shared link SHARE (a link the test made, labelled with a payload: the
// read-only view anyone with the link sees), and the public badges, charts and JSON answers for
// payload paths. After each view it scans the document for markup a payload could have made
// (event-handler attributes, script URLs, frames, unknown elements), records which payloads it
// shows as text, and keeps the CSV export links the view offers and the SVGs and feeds it loaded
// (the test downloads them).
//
//   FOOTFALL_URL=http://127.0.0.1:PORT SETUP=TOKEN SITE=example.com PAYLOADS=payloads.json \
//     SHARE=TOKEN SHARE_LABEL=TEXT node xss.mjs
//
// PAYLOADS is a JSON list of {id, variant, text}. Prints one JSON line of counts: totals, and
// the same per area (dashboard, share, settings, public).

import { readFileSync } from "node:fs";
import { launch } from "./chromium.mjs";

const footfall = process.env.FOOTFALL_URL;
const setup = process.env.SETUP;
const site = process.env.SITE || "example.com";
const shareToken = process.env.SHARE;
const shareLabel = process.env.SHARE_LABEL || "";
if (!footfall || !setup || !process.env.PAYLOADS || !shareToken) {
  console.error("usage: FOOTFALL_URL=http://127.0.0.1:PORT SETUP=TOKEN PAYLOADS=FILE SHARE=TOKEN node xss.mjs");
  process.exit(2);
}
const payloads = JSON.parse(readFileSync(process.env.PAYLOADS, "utf8"));
const writtenAs = payloads.filter((p) => p.variant === "as-written");
const origin = new URL(footfall).origin;
const q = encodeURIComponent;

// The dashboard's panels, as it marks them now ([data-panel]) and did before ([data-dimension]).
const PANELS = "[data-panel], [data-dimension]";
const ROWS = "tbody tr button, [role=row] button";
const HOVERED = "main tbody tr, [role=row], #chart circle, svg circle, [role=tab], #filters li";
const EXPECTED_PATHS = [
  /^\/$/, /^\/login$/, /^\/logout$/, /^\/setup$/, /^\/settings/, /^\/share\//, /^\/assets\//, /^\/api\//,
  /^\/favicon\.ico$/,
];

// What the drill found. Lists keep every finding; the output shows the first few.
const found = {
  dialogs: [],
  hooked: [],
  outbound: [],
  csp: [],
  injected: [],
  payloadRequests: [],
  unexpectedSameOrigin: [],
  externalLinks: [],
  pageErrors: [],
  consoleErrors: [],
  stepErrors: [],
};
const counts = { views: 0, tabs: 0, rowClicks: 0, hovers: 0, craftedUrls: 0, svgImages: 0, publicDocuments: 0 };
const seen = new Map(); // payload id → the view that first showed it as text
// The same, per area of the drill: what each found, did and showed (findings are counted in the
// area that was being walked when they came, late ones included).
let area = "dashboard";
const areas = {};
function tally() {
  areas[area] ??= { findings: {}, counts: {}, seen: new Set(), exports: new Set(), exportKinds: {} };
  return areas[area];
}
/// A finding of `kind` (a list of `found`), counted in the current area too.
function note(kind, item) {
  found[kind].push(item);
  const t = tally().findings;
  t[kind] = (t[kind] ?? 0) + 1;
}
/// Adds to a count, in the totals and in the current area.
function bump(name, n = 1) {
  counts[name] += n;
  const t = tally().counts;
  t[name] = (t[name] ?? 0) + n;
}
const ownNavigations = new Set();
// Every SVG and feed the walk asked this server for (badges, charts): the test fetches and
// parses each as XML.
const xmlLinks = new Set();
let publicPhase = false;
let requestCount = 0;
const inflight = new Set();
const started = Date.now();
const phases = {};
let phaseStart = started;
function phase(name) {
  phases[name] = Date.now() - phaseStart;
  phaseStart = Date.now();
}

// Runs in every document and frame before its own scripts.
function hooks() {
  const report = (kind, detail) => {
    try {
      window.__xssReport(kind, String(detail).slice(0, 300), String(location.href).slice(0, 300));
    } catch {
      // No binding: nothing to report to.
    }
  };
  const trap = (name, answer) =>
    function () {
      report(name, Array.from(arguments, String).join(", "));
      return answer;
    };
  for (const [name, answer] of [
    ["alert", undefined],
    ["confirm", false],
    ["prompt", null],
    ["print", undefined],
    ["open", null],
  ]) {
    try {
      Object.defineProperty(window, name, { value: trap(name, answer), writable: false, configurable: false });
    } catch {
      // Already replaced in this realm.
    }
  }
  addEventListener(
    "securitypolicyviolation",
    (e) => report("csp", `${e.violatedDirective} blocked ${e.blockedURI || "inline"}: ${e.sample}`),
    true,
  );
}

// Runs in a page: what in the document could only have come from a payload parsed as markup.
function scan(serverOrigin) {
  const injected = [];
  const external = [];
  const urlAttributes = new Set([
    "href", "xlink:href", "src", "srcset", "srcdoc", "action", "formaction", "data", "poster",
    "background", "ping", "codebase", "cite", "longdesc", "manifest", "icon", "lowsrc", "dynsrc",
    "to", "from", "values",
  ]);
  const never = new Set(["iframe", "frame", "frameset", "object", "embed", "applet", "base", "portal", "isindex"]);
  const describe = (el) => el.outerHTML.slice(0, 200);
  for (const el of document.querySelectorAll("*")) {
    const tag = el.localName.toLowerCase();
    if (never.has(tag)) injected.push(`<${tag}>: ${describe(el)}`);
    if (el instanceof HTMLUnknownElement) injected.push(`unknown element <${tag}>: ${describe(el)}`);
    if (tag === "meta" && el.hasAttribute("http-equiv")) injected.push(`meta http-equiv: ${describe(el)}`);
    if (tag === "script" && (el.textContent.trim() || !el.src.startsWith(`${serverOrigin}/`))) {
      injected.push(`script: ${describe(el)}`);
    }
    if (tag === "style" && /url\(|expression|@import|behavior/i.test(el.textContent)) {
      injected.push(`style: ${describe(el)}`);
    }
    for (const attribute of el.attributes) {
      const name = attribute.name.toLowerCase();
      const value = attribute.value;
      if (name.startsWith("on")) injected.push(`${name} on <${tag}>: ${describe(el)}`);
      if (name === "style" && /url\(|expression|behavior|binding/i.test(value)) {
        injected.push(`style attribute on <${tag}>: ${describe(el)}`);
      }
      if (!urlAttributes.has(name)) continue;
      if (/^[\u0000-\u0020]*(javascript|vbscript|data|livescript):/i.test(value.replace(/[\t\n\r]/g, ""))) {
        injected.push(`${name}=${value.slice(0, 80)} on <${tag}>`);
        continue;
      }
      let target;
      try {
        target = new URL(value, document.baseURI);
      } catch {
        continue;
      }
      if (!/^https?:$/.test(target.protocol) || target.origin === serverOrigin) continue;
      // A link the owner may follow to another site is a feature; anything that loads is not.
      if ((tag === "a" || tag === "area") && name === "href") external.push(target.href);
      else injected.push(`${name}=${value.slice(0, 80)} on <${tag}>`);
    }
  }
  if (location.origin !== "null" && new URL(document.baseURI).origin !== location.origin) {
    injected.push(`base URI moved to ${document.baseURI}`);
  }
  const text = document.body ? document.body.innerText : document.documentElement.textContent;
  // The CSV downloads the view offers (panels' and the range's), as absolute URLs.
  const exports = Array.from(document.querySelectorAll("a[href*='export.csv']"), (a) => a.href);
  return { injected, external, text, frames: window.frames.length, exports };
}

function sameOrigin(url) {
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}

const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.exposeBinding("__xssReport", (_source, kind, detail, where) => {
    note(kind === "csp" ? "csp" : "hooked", { kind, detail, where });
  });
  await context.addInitScript(hooks);
  // Nothing leaves for another origin: recorded, then aborted.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (sameOrigin(url)) return route.continue();
    note("outbound", url.slice(0, 200));
    return route.abort("blockedbyclient");
  });
  context.on("request", (request) => {
    requestCount++;
    inflight.add(request);
    const url = request.url();
    if (!sameOrigin(url)) return;
    const parsed = new URL(url);
    if (/\.(svg|rss)$/.test(parsed.pathname)) xmlLinks.add(url);
    if (!EXPECTED_PATHS.some((p) => p.test(parsed.pathname))) note("unexpectedSameOrigin", url.slice(0, 200));
    // A payload's relative URL (src=xss, //evil.invalid/N resolved here) asked of this server.
    const own = request.isNavigationRequest() && ownNavigations.has(parsed.href);
    const publicAnswer = publicPhase && parsed.pathname.startsWith("/api/");
    let spelled = parsed.pathname + parsed.search;
    try {
      spelled = decodeURIComponent(spelled);
    } catch {
      // Keep the encoded form.
    }
    if (!own && !publicAnswer && /xss|evil\.invalid/i.test(spelled)) {
      note("payloadRequests", `${request.resourceType()} ${url.slice(0, 200)}`);
    }
  });
  context.on("requestfinished", (r) => inflight.delete(r));
  context.on("requestfailed", (r) => inflight.delete(r));
  context.on("page", watch);

  function watch(page) {
    page.on("dialog", (dialog) => {
      note("dialogs", { type: dialog.type(), message: dialog.message().slice(0, 200), where: page.url() });
      dialog.dismiss().catch(() => {});
    });
    page.on("pageerror", (e) => note("pageErrors", String(e).slice(0, 300)));
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
        note("consoleErrors", m.text().slice(0, 300));
      }
    });
    page.on("websocket", (ws) => note("outbound", ws.url()));
  }

  const page = await context.newPage();

  async function go(url) {
    ownNavigations.add(new URL(url, origin).href);
    return page.goto(url, { waitUntil: "load" });
  }

  // Every data-loaded in the page (the page's own, and each panel's): they change as views are
  // drawn.
  const signature = () =>
    page
      .evaluate(() => Array.from(document.querySelectorAll("[data-loaded]"), (e) => e.dataset.loaded).join("|"))
      .catch(() => "(navigating)");

  // Waits until no request is in flight and no data-loaded has moved for three polls.
  async function settle(timeout = 6000) {
    const end = Date.now() + timeout;
    let last;
    let stable = 0;
    while (Date.now() < end) {
      await page.waitForTimeout(30);
      const now = await signature();
      if (inflight.size === 0 && now === last) {
        if (++stable >= 3) return true;
      } else stable = 0;
      last = now;
    }
    return false;
  }

  // Does something that may redraw the view, and waits for the redraw: until a data-loaded
  // changes, or, when nothing was asked of the server within a quarter of a second, nothing will.
  async function act(action) {
    const before = await signature();
    const requests = requestCount;
    const begun = Date.now();
    await action();
    while (Date.now() - begun < 3000) {
      await page.waitForTimeout(20);
      if ((await signature()) !== before) break;
      if (requestCount === requests && Date.now() - begun > 250) break;
    }
    await settle();
  }

  // Scans what is on screen now, and counts it as a view of the dashboard when it is one.
  async function look(where, dashboard = true) {
    for (const frame of page.frames()) {
      let result;
      try {
        result = await frame.evaluate(scan, origin);
      } catch (e) {
        note("stepErrors", `scan ${where}: ${String(e).slice(0, 200)}`);
        continue;
      }
      for (const item of result.injected) note("injected", `${where}: ${item}`);
      for (const link of result.external) if (!found.externalLinks.includes(link)) found.externalLinks.push(link);
      if (frame === page.mainFrame() && result.frames > 0) note("injected", `${where}: ${result.frames} frames`);
      const text = result.text || "";
      const here = tally().seen;
      for (const p of payloads) {
        if (here.has(p.id) || p.text.trim().length <= 3 || !text.includes(p.text)) continue;
        here.add(p.id);
        if (!seen.has(p.id)) seen.set(p.id, where);
      }
      if (frame === page.mainFrame()) {
        const filtered = new URL(page.url()).searchParams.has("f");
        for (const href of result.exports) keepExport(href, filtered);
      }
    }
    if (dashboard) bump("views");
  }

  // Keeps an export link for the test to download: the first 20 of each kind (a prop's
  // breakdown; one under the view's filters, payloads among them; the others), so that each
  // kind is there.
  function keepExport(href, filtered) {
    const exports = tally().exports;
    if (exports.has(href)) return;
    let query = {};
    try {
      query = JSON.parse(new URL(href).searchParams.get("q") ?? "{}");
    } catch {
      // Kept as a link without filters.
    }
    const props = (query.dimensions ?? []).some((d) => String(d).startsWith("event:props:"));
    const kind = props ? "props" : filtered ? "filtered" : "plain";
    const kept = tally().exportKinds;
    if ((kept[kind] ?? 0) >= 20) return;
    kept[kind] = (kept[kind] ?? 0) + 1;
    exports.add(href);
  }

  async function step(name, action) {
    try {
      await action();
    } catch (e) {
      note("stepErrors", `${name}: ${String(e).split("\n")[0].slice(0, 300)}`);
    }
  }

  // Hovers rows and chart points: the first few with the real mouse (and :hover styles), and
  // every one with the events a pointer sends (pointerover, mouseover, mouseenter, mousemove,
  // focus).
  async function hoverAll(where) {
    const targets = page.locator(HOVERED);
    const n = Math.min(await targets.count(), 3);
    for (let i = 0; i < n; i++) {
      await step(`hover ${where} ${i}`, () => targets.nth(i).hover({ force: true, timeout: 1000 }));
    }
    bump("hovers", await page.evaluate((selector) => {
      const all = document.querySelectorAll(selector);
      for (const el of all) {
        for (const type of ["pointerover", "mouseover", "mouseenter", "mousemove", "pointerenter"]) {
          el.dispatchEvent(new MouseEvent(type, { bubbles: type !== "mouseenter" && type !== "pointerenter" }));
        }
        for (const child of el.querySelectorAll("button, a, [tabindex]")) child.dispatchEvent(new FocusEvent("focus"));
      }
      return all.length;
    }, HOVERED));
    await settle(1000);
  }

  // Clicks the first row of `scope` that shows markup or escapes (or, unless `hostile`, the
  // first row) into a filter, looks, and goes back (the next action waits for that view).
  async function clickFirstRow(scope, where, { hover = false, hostile = false } = {}) {
    const texts = await scope.locator(ROWS).allTextContents();
    let index = texts.findIndex((t) => /[<>"'%&\\${}`]|script/i.test(t));
    if (index < 0 && !hostile) index = 0;
    if (index < 0 || index >= texts.length) return;
    const row = scope.locator(ROWS).nth(index);
    await act(() => row.click({ timeout: 2000 }));
    bump("rowClicks");
    await look(`${where}, first row clicked`);
    if (hover) await hoverAll(`${where} filtered`);
    await page.goBack();
  }

  // Clicks every [role=tab]; in the panel of each, picks the first options of any picker (the
  // props tab's property names) and clicks the first row.
  async function clickTabs(where) {
    const n = await page.locator('[role="tab"]').count();
    for (let i = 0; i < n; i++) {
      await step(`tab ${where} ${i}`, async () => {
        const tab = page.locator('[role="tab"]').nth(i);
        const name = ((await tab.textContent()) ?? "").trim().slice(0, 40);
        await act(() => tab.click({ timeout: 2000 }));
        bump("tabs");
        await look(`${where}, tab ${name}`);
        const panel = tab.locator(
          'xpath=ancestor::*[self::section or @data-panel or @data-dimension or contains(concat(" ", @class, " "), " panel ")][1]',
        );
        const pickers = panel.locator("select");
        for (let k = 0; k < (await pickers.count()); k++) {
          const values = await pickers.nth(k).evaluate((s) => Array.from(s.options, (o) => o.value));
          for (const value of values.slice(1, 4)) {
            await act(() => pickers.nth(k).selectOption(value, { timeout: 2000 }));
            await look(`${where}, tab ${name}, picked ${value.slice(0, 30)}`);
          }
        }
        await clickFirstRow(panel, `${where}, tab ${name}`, { hostile: true });
      });
    }
    await settle();
  }

  // Sign in through the first-run link, as dashboard.mjs does.
  watch(page);
  await go(`${footfall}/setup?token=${setup}`);
  await page.getByLabel("Name").fill("ann");
  await page.getByLabel(/^Password/).fill("long enough pass");
  await page.getByRole("button", { name: "Create and sign in" }).click();
  await page.waitForURL(`${footfall}/`);
  await page.waitForSelector("body[data-loaded]");
  await settle();
  await look("default view");
  phase("signIn");

  // Payloads as filters, periods, comparisons, tabs and sites in the URL: a link anyone could
  // send the owner, or change in a shared link's address.
  const pick = (k) => writtenAs[(k * 7) % writtenAs.length];
  const filtered = [
    ["event:page", (t) => `/p/${t}`],
    ["visit:entry_page", (t) => `/p/${t}`],
    ["visit:source", (t) => t],
    ["visit:referrer", (t) => `evil.invalid/${t}`],
    ["visit:utm_campaign", (t) => t],
    ["visit:utm_term", (t) => t],
    ["event:name", (t) => t],
    ["event:props:xss", (t) => t],
    ["visit:city", (t) => t],
    ["event:goal", (t) => t],
  ];
  const filter = (dimension, value) => `f=${q(`${dimension}|${value}`)}`;
  // Links of two filters naming one payload (its visits hold both); then one with every filter,
  // each naming another payload; then payloads as the dimensions themselves.
  const crafted = [];
  for (let k = 0; k < filtered.length; k += 2) {
    const text = pick(k).text;
    crafted.push(`${filter(filtered[k][0], filtered[k][1](text))}&${filter(filtered[k + 1][0], filtered[k + 1][1](text))}`);
  }
  crafted.push(filtered.map(([dimension, value], k) => filter(dimension, value(pick(k + 10).text))).join("&"));
  crafted.push(
    [20, 21, 22].map((k) => filter(pick(k).text, "x")).join("&") +
      "&" +
      [23, 24].map((k) => filter(`event:props:${pick(k).text}`, pick(k + 2).text)).join("&"),
  );
  crafted.push(`period=${q(pick(30).text)}`);
  crafted.push(`period=${q(`2020-01-01,${pick(31).text}`)}`);
  crafted.push(`period=day&compare=${q(pick(32).text)}`);
  crafted.push(`period=day&interval=${q(pick(34).text)}&metric=${q(pick(35).text)}`);
  crafted.push(`period=day&tab_goals=props&prop=${q(pick(36).text)}`);
  crafted.push(`period=day&tab_sources=referrers&tab_locations=cities&tab_goals=events&tab_pages=exit`);
  crafted.push(`period=day&tab_sources=utm_content&tab_locations=regions&tab_devices=os_versions`);
  crafted.push(`period=day&tab_${q(pick(37).text)}=${q(pick(38).text)}&tab_pages=${q(pick(39).text)}`);

  // The walk of a view of the dashboard (the owner's, or a shared link's): `at(query)` is its
  // address with that query; `label` starts each place's name, `prefix` each phase's.
  async function walk({ at, label = "", prefix = "" }) {
    // Every option of every control (period, comparison, chart metric, granularity, …) but the
    // site picker.
    const selects = await page.locator("select:visible").evaluateAll((all) =>
      all
        .filter((s) => s.id !== "site")
        .map((s, i) => {
          if (!s.id) s.setAttribute("data-xss-select", String(i));
          return {
            selector: s.id ? `#${s.id}` : `[data-xss-select="${i}"]`,
            values: Array.from(s.options).filter((o) => !o.disabled).map((o) => o.value),
          };
        }),
    );
    for (const { selector, values } of selects) {
      for (const value of values.slice(0, 12)) {
        await step(`${label}${selector}=${value}`, async () => {
          if ((await page.locator(selector).inputValue()) === value) return;
          if ((await page.locator(`${selector} option:not([disabled])`).evaluateAll((os, v) => os.some((o) => o.value === v), value)) === false) return;
          await act(() => page.selectOption(selector, value, { timeout: 2000 }));
          await look(`${label}${selector} ${value}`);
        });
      }
    }
    await step(`${label}back to today`, async () => {
      await go(at("period=day"));
      await settle();
      await look(`${label}today again`);
    });
    phase(`${prefix}controls`);

    await hoverAll(`${label}default view`);
    await clickTabs(`${label}default view`);
    phase(`${prefix}tabs`);

    // The first row of every panel as it opens, its filtered view hovered; then two filters at
    // once.
    const panels = await page.locator(PANELS).count();
    for (let i = 0; i < panels; i++) {
      await step(`${label}row of panel ${i}`, () =>
        clickFirstRow(page.locator(PANELS).nth(i), `${label}panel ${i}`, { hover: i < 2 }),
      );
      await settle();
    }
    await step(`${label}two filters`, async () => {
      await settle();
      for (const i of [0, 1]) {
        const row = page.locator(PANELS).nth(i).locator(ROWS).first();
        if ((await row.count()) === 0) continue;
        await act(() => row.click({ timeout: 2000 }));
        bump("rowClicks");
      }
      await look(`${label}two filters`);
    });
    phase(`${prefix}rows`);

    for (const [k, query] of crafted.entries()) {
      await step(`${label}crafted ${k}`, async () => {
        const withPeriod = query.startsWith("period=") ? query : `period=day&${query}`;
        await go(at(withPeriod));
        await settle();
        bump("craftedUrls");
        await look(`${label}crafted URL ${k}`);
        if (k === 0) await hoverAll(`${label}crafted URL ${k}`);
      });
    }
    // Filters from the URL, removed one by one through their chips.
    await step(`${label}chips`, async () => {
      await go(at(`period=day&${crafted[0]}&${crafted[2]}`));
      await settle();
      await look(`${label}crafted filters`);
      for (let i = 0; i < 4; i++) {
        const chip = page.locator("#filters button, [aria-label^='Remove filter']").first();
        if ((await chip.count()) === 0) break;
        await act(() => chip.click({ timeout: 2000 }));
        await look(`${label}chip ${i} removed`);
      }
    });
  }

  await walk({ at: (query) => `${footfall}/?site=${q(site)}&${query}` });
  await step("crafted site", async () => {
    await go(`${footfall}/?site=${q(pick(33).text)}&period=day`);
    await settle();
    bump("craftedUrls");
    await look("crafted site");
  });
  // Shared links whose token is a payload (the page reads it from its path).
  for (const k of [40, 41]) {
    await step(`crafted share ${k}`, async () => {
      await go(`${footfall}/share/${q(pick(k).text)}?period=day`);
      await settle();
      bump("craftedUrls");
      await look(`crafted share link ${k}`);
    });
  }
  phase("crafted");

  // The settings page, when there is one: looked at, and given a payload goal and a shared link
  // labelled with a payload, which is then opened.
  area = "settings";
  let settings = null;
  const settingsDone = [];
  await step("settings", async () => {
    settings = (await page.request.get(`${footfall}/settings?site=${q(site)}`)).status();
    if (settings !== 200) {
      console.error(`/settings answered ${settings}: skipped`);
      return;
    }
    await go(`${footfall}/settings?site=${q(site)}`);
    await settle();
    await look("settings");
    await hoverAll("settings");
    await clickTabs("settings");
    const goal = page.locator("#goal-value");
    if ((await goal.count()) && (await goal.isEnabled())) {
      await goal.fill(pick(42).text);
      await act(() => goal.press("Enter"));
      await look("settings, payload goal added");
      settingsDone.push("payload goal added");
    }
    const label = page.locator("#share-label");
    if ((await label.count()) && (await label.isEnabled())) {
      await label.fill(pick(43).text.slice(0, 100));
      await act(() => label.press("Enter"));
      await look("settings, payload share made");
      settingsDone.push("payload-labelled share made");
      const link = ((await page.locator("#share-url").textContent().catch(() => "")) ?? "").trim();
      if (link.startsWith("http")) {
        await go(link);
        await settle();
        await look("shared link");
        await go(`${link}?embed=true&period=day&tab_goals=props`);
        await settle();
        await look("shared link, embedded");
        settingsDone.push("shared link opened");
      }
    }
    await go(`${footfall}/?site=${q(site)}&period=day&tab_goals=goals`);
    await settle();
    await look("goals after settings");
  });
  phase("settings");

  // The shared link the test made (labelled with a payload), walked as the owner's dashboard
  // was: what anyone with the link sees. A browser of its own, without the owner's session, as a
  // link's visitor has.
  area = "share";
  const sharedAt = (query) => `${footfall}/share/${shareToken}?${query}`;
  let shareLabelShown = false;
  await step("shared view", async () => {
    await context.clearCookies();
    await go(sharedAt("period=day"));
    await page.waitForSelector("body[data-loaded]", { timeout: 15000 });
    await settle();
    await look("share: default view");
    shareLabelShown = ((await page.locator("#label").textContent()) ?? "") === shareLabel;
  });
  await walk({ at: sharedAt, label: "share: ", prefix: "share." });
  await step("shared view, embedded", async () => {
    await go(sharedAt("embed=true&period=day&tab_goals=props"));
    await settle();
    await look("share: embedded");
    await hoverAll("share: embedded");
  });
  phase("share.crafted");

  // The public answers for payload paths: as images in a page, and opened on their own.
  area = "public";
  publicPhase = true;
  const svgUrls = [];
  payloads.forEach((p, i) => {
    if (i % 7) return;
    svgUrls.push(`${footfall}/api/counter.svg?site=${q(site)}&path=${q(`/p/${p.text}`)}&label=${q(p.text)}`);
    svgUrls.push(`${footfall}/api/chart.svg?site=${q(site)}&path=${q(`/p/${p.text}`)}&period=7d`);
  });
  await step("images", async () => {
    const images = svgUrls
      .map((u) => `<img alt="" src="${u.replace(/&/g, "&amp;").replace(/"/g, "&quot;")}">`)
      .join("\n");
    await page.setContent(`<!doctype html><title>badges</title><body>${images}</body>`, {
      waitUntil: "load",
      timeout: 30000,
    });
    counts.svgImages = await page
      .locator("img")
      .evaluateAll((imgs) => imgs.filter((i) => i.complete && i.naturalWidth > 0).length);
  });
  const opened = [];
  writtenAs.slice(0, 10).forEach((p) => {
    opened.push(`${footfall}/api/counter.svg?site=${q(site)}&path=${q(`/p/${p.text}`)}&label=${q(p.text)}`);
    opened.push(`${footfall}/api/chart.svg?site=${q(site)}&path=${q(`/p/${p.text}`)}&style=bars&theme=dark&period=day`);
  });
  writtenAs.slice(10, 13).forEach((p) => {
    opened.push(`${footfall}/api/counter?site=${q(site)}&path=${q(`/p/${p.text}`)}&path=${q(p.text)}`);
  });
  opened.push(`${footfall}/api/popular?site=${q(site)}&limit=100&period=day`);
  for (const url of opened) {
    const short = url.slice(footfall.length, footfall.length + 60);
    await step(`open ${short}`, async () => {
      await go(url);
      bump("publicDocuments");
      await look(`opened ${short}`, false);
    });
  }
  // Any late report (a handler or a load that fired after its view).
  await page.waitForTimeout(300);
  phase("public");

  const first = (list, n = 5) => list.slice(0, n);
  const seenList = [...seen.entries()].map(([id, where]) => {
    const p = payloads.find((x) => x.id === id);
    return { id, variant: p.variant, text: p.text.slice(0, 80), where };
  });
  const byVariant = {};
  for (const s of seenList) byVariant[s.variant] = (byVariant[s.variant] || 0) + 1;
  // Per area: every finding and count (0 where none), the payloads shown as text, the export
  // links offered.
  const perArea = {};
  const exportLinks = {};
  for (const [name, a] of Object.entries(areas)) {
    perArea[name] = { seenAsText: a.seen.size, exportLinks: a.exports.size, exportKinds: a.exportKinds };
    for (const kind of Object.keys(found)) perArea[name][kind] = a.findings[kind] ?? 0;
    for (const count of Object.keys(counts)) perArea[name][count] = a.counts[count] ?? 0;
    exportLinks[name] = [...a.exports];
  }
  console.log(
    JSON.stringify({
      payloads: payloads.length,
      dialogs: found.dialogs.length,
      dialogsFirst: first(found.dialogs),
      hooked: found.hooked.length,
      hookedFirst: first(found.hooked),
      outbound: found.outbound.length,
      outboundFirst: first(found.outbound),
      cspViolations: found.csp.length,
      cspFirst: first(found.csp),
      injected: found.injected.length,
      injectedFirst: first(found.injected),
      payloadRequests: found.payloadRequests.length,
      payloadRequestsFirst: first(found.payloadRequests),
      unexpectedSameOrigin: first(found.unexpectedSameOrigin),
      externalLinks: found.externalLinks.length,
      externalLinksFirst: first(found.externalLinks, 3),
      ...counts,
      settings,
      settingsDone,
      seenAsText: seen.size,
      seenByVariant: byVariant,
      seenExamples: first(seenList, 4),
      pageErrors: found.pageErrors.length,
      pageErrorsFirst: first(found.pageErrors, 3),
      consoleErrors: found.consoleErrors.length,
      consoleErrorsFirst: first(found.consoleErrors, 3),
      stepErrors: found.stepErrors.length,
      stepErrorsFirst: first(found.stepErrors, 5),
      shareLabelShown,
      areas: perArea,
      exportLinks,
      xmlLinks: [...xmlLinks],
      ms: Date.now() - started,
      phases,
    }),
  );
} finally {
  await browser.close();
}
