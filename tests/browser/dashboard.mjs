// Drives Debian's Chromium through the owner's sign-in: the first-run link, the home page,
// signing out, a failed sign-in, signing in again, and an old session that no longer works;
// then the dashboard: its numbers, filters, tabs (by mouse and keyboard, restored from the URL),
// the granularity and metric of the chart, yesterday and last month in the site's time zone,
// CSV downloads, dropped events, and the read-only view of a shared link.
//
//   FOOTFALL_URL=http://127.0.0.1:PORT SETUP=TOKEN SITE_TODAY=YYYY-MM-DD node dashboard.mjs
//
// SITE_TODAY is today in the site's time zone; the browser runs in another one (Honolulu, a
// day behind Kiritimati), so dates computed in the browser's zone would be off by one.
// Prints one JSON line of what the pages showed.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { launch } from "./chromium.mjs";

const footfall = process.env.FOOTFALL_URL;
const setup = process.env.SETUP;
const siteToday = process.env.SITE_TODAY;
if (!footfall || !setup || !siteToday) {
  console.error("usage: FOOTFALL_URL=http://127.0.0.1:PORT SETUP=TOKEN SITE_TODAY=YYYY-MM-DD node dashboard.mjs");
  process.exit(2);
}

const browser = await launch();
try {
  const context = await browser.newContext({ timezoneId: "Pacific/Honolulu" });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  // Script errors and CSP violations; a failed sign-in's 401 and the favicon's 404 are
  // answers, not problems.
  page.on("console", (m) =>
    m.type() === "error" && !m.text().startsWith("Failed to load resource") ? problems.push(m.text()) : null,
  );

  await page.goto(`${footfall}/`);
  assert.equal(new URL(page.url()).pathname, "/login", "signed out, / leads to the sign-in page");

  await page.goto(`${footfall}/setup?token=${setup}`);
  await page.getByLabel("Name").fill("ann");
  await page.getByLabel(/^Password/).fill("long enough pass");
  await page.getByRole("button", { name: "Create and sign in" }).click();
  await page.waitForURL(`${footfall}/`);
  await page.waitForSelector("body[data-loaded]");
  const home = {
    owner: await page.locator("#owner").textContent(),
    sites: await page.locator("#site option").allTextContents(),
  };
  const [cookie] = await context.cookies();

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(`${footfall}/login`);

  await page.getByLabel("Name").fill("ann");
  await page.getByLabel("Password").fill("a wrong password");
  await page.getByRole("button", { name: "Sign in" }).click();
  const failed = await page.locator(".message").textContent();
  // A name that just failed may be tried again after a quarter of a second.
  await page.waitForTimeout(300);

  await page.getByLabel("Name").fill("ann");
  await page.getByLabel("Password").fill("long enough pass");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${footfall}/`);
  await page.locator("#owner").filter({ hasText: "ann" }).waitFor();

  // The dashboard's numbers, a click on a page that filters every panel, and the same view
  // after a reload (the URL holds it).
  const read = async () => ({
    top: Object.fromEntries(
      await page.locator("#topline > div").evaluateAll((items) =>
        items.map((d) => [d.dataset.metric, d.querySelector("dd").textContent]),
      ),
    ),
    pages: await page.locator('[data-dimension="event:page"] tbody tr').evaluateAll((rows) =>
      rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent]),
    ),
    countries: await page.locator('[data-dimension="visit:country_name"] tbody tr').evaluateAll((rows) =>
      rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent]),
    ),
  });
  await page.waitForSelector('body[data-loaded="example.com day 0"]');
  const dashboard = await read();
  await page.locator('[data-dimension="event:page"] tbody button', { hasText: "/pricing" }).click();
  await page.waitForSelector('body[data-loaded="example.com day 1"]');
  const filtered = await read();
  const filteredUrl = new URL(page.url()).search;
  await page.reload();
  await page.waitForSelector('body[data-loaded="example.com day 1"]');
  const restored = await read();
  const chips = await page.locator("#filters li").allTextContents();
  // Screenshots, as test artifacts: a desktop and a phone, light and dark.
  if (process.env.SCREENSHOTS) {
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const width of [1280, 390]) {
        await page.setViewportSize({ width, height: 900 });
        await page.screenshot({ path: `${process.env.SCREENSHOTS}/dashboard-${width}-${scheme}.png`, fullPage: true });
      }
    }
  }
  await page.getByRole("button", { name: /Remove filter/ }).click();
  await page.waitForSelector('body[data-loaded="example.com day 0"]');
  await page.selectOption("#compare", "previous_period");
  await page.waitForSelector('body[data-loaded="example.com day 0 previous_period"]');
  const change = await page.locator('[data-metric="visitors"] .change').textContent();
  const comparedLine = await page.locator("#chart polyline.compared").count();

  // The session signed out above no longer opens anything.
  const old = await page.request.get(`${footfall}/api/dashboard/me`, {
    headers: { cookie: `${cookie.name}=${cookie.value}` },
  });

  // Tabs: each one's rows and the Stats query behind them (from its CSV link).
  const loaded = (value) => page.waitForSelector(`body[data-loaded="${value}"]`);
  const panel = (id) => page.locator(`[data-panel="${id}"]`);
  const readPanel = async (id) => {
    const href = await panel(id).locator("a.export").getAttribute("href");
    return {
      rows: await panel(id).locator("tbody tr").evaluateAll((rows) =>
        rows.map((r) => [...r.cells].map((c) => c.textContent)),
      ),
      q: href ? JSON.parse(new URL(href, footfall).searchParams.get("q")) : null,
      href,
    };
  };
  const openTab = async (id, name, tab) => {
    await panel(id).getByRole("tab", { name, exact: true }).click();
    await page.waitForSelector(`[data-panel="${id}"][data-loaded="${tab}"]`);
    return readPanel(id);
  };
  await page.goto(`${footfall}/?site=example.com&period=day`);
  await loaded("example.com day 0");
  const tabs = { top: await readPanel("pages"), goals: await readPanel("goals") };
  for (const [id, name, tab] of [
    ["pages", "Time on page", "time"],
    ["pages", "Exit pages", "exit"],
    ["sources", "Referrers", "referrers"],
    ["sources", "UTM source", "utm_source"],
    ["sources", "UTM campaign", "utm_campaign"],
    ["locations", "Regions", "regions"],
    ["locations", "Cities", "cities"],
    ["devices", "Browser versions", "browser_versions"],
    ["goals", "Custom events", "events"],
    ["goals", "Props", "props"],
  ]) {
    tabs[tab] = await openTab(id, name, tab);
  }
  const propKeys = await panel("goals").locator("select option").allTextContents();
  await panel("goals").locator("select").selectOption("plan");
  await page.waitForSelector('[data-panel="goals"][data-loaded="props"]');
  tabs.props = await readPanel("goals");
  const selectedTabs = () =>
    page.locator('[role="tab"][aria-selected="true"]').evaluateAll((tabs) =>
      tabs.map((t) => [t.closest("[data-panel]").dataset.panel, t.textContent]),
    );
  const tabsBefore = await selectedTabs();
  const tabsUrl = new URL(page.url()).search;
  await page.reload();
  await loaded("example.com day 0");
  const tabsRestored = await selectedTabs();
  const propsRestored = await readPanel("goals");

  // The keyboard: arrows move between tabs (and wrap), Home and End go to the ends; the tab
  // moved to is focused and shown.
  const keys = [];
  await panel("pages").getByRole("tab", { name: "Exit pages" }).focus();
  for (const key of ["ArrowRight", "ArrowRight", "End", "Home", "ArrowLeft"]) {
    await page.keyboard.press(key);
    const selected = await panel("pages").locator('[role="tab"][aria-selected="true"]');
    const tab = await selected.getAttribute("data-tab");
    await page.waitForSelector(`[data-panel="pages"][data-loaded="${tab}"]`);
    keys.push({
      key,
      selected: await selected.textContent(),
      focused: await page.evaluate(() => document.activeElement.textContent),
      controls: await selected.getAttribute("aria-controls"),
      panelRole: await page.locator(`#${await selected.getAttribute("aria-controls")}`).getAttribute("role"),
      labelledBy: await page.locator(`#${await selected.getAttribute("aria-controls")}`).getAttribute("aria-labelledby"),
      id: await selected.getAttribute("id"),
    });
  }

  // A browser version's row filters by the browser and the version.
  await page.goto(`${footfall}/?site=example.com&period=day&tab_devices=browser_versions`);
  await loaded("example.com day 0");
  await panel("devices").locator("tbody button", { hasText: "Firefox" }).first().click();
  await loaded("example.com day 2");
  const versionChips = await page.locator("#filters li").allTextContents();
  const versionUrl = new URL(page.url()).search;

  // CSV downloads: a panel's rows, and the whole range.
  const download = async (link) => {
    try {
      const [file] = await Promise.all([page.waitForEvent("download", { timeout: 10_000 }), link.click()]);
      const failure = await file.failure();
      return { name: file.suggestedFilename(), failure, text: failure ? null : await readFile(await file.path(), "utf8") };
    } catch (error) {
      return { failure: String(error) };
    }
  };
  await page.goto(`${footfall}/?site=example.com&period=day&tab_pages=exit`);
  await loaded("example.com day 0");
  await page.waitForSelector('[data-panel="pages"][data-loaded="exit"]');
  const exitRows = await readPanel("pages");
  const panelCsv = await download(panel("pages").getByRole("link", { name: /^Export CSV/ }));
  const rangeHref = await page.locator("#export-range").getAttribute("href");
  const rangeCsv = await download(page.getByRole("link", { name: "Export range CSV" }));

  // Dropped events, as the server counts them.
  const dropped = {
    shown: await panel("dropped").locator("tbody tr").evaluateAll((rows) =>
      rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent]),
    ),
    api: await (await page.request.post(`${footfall}/api/dashboard/dropped`, {
      data: { site_id: "example.com", date_range: "day" },
    })).json().catch(() => null),
  };

  // The chart's buckets: a 30-day range ending today in the site's zone, by day, then by week;
  // then pageviews instead of visitors.
  const day = (date, n) => new Date(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
  const month = `${day(siteToday, -29)},${siteToday}`;
  const readChart = async () => ({
    interval: await page.locator("#interval").inputValue(),
    offered: await page.locator("#interval option").evaluateAll((o) => o.map((x) => x.value)),
    points: await page.locator("#chart circle title").allTextContents(),
  });
  await page.goto(`${footfall}/?site=example.com&period=${month}`);
  await loaded(`example.com ${month} 0`);
  const chart = { month, byDay: await readChart() };
  await page.selectOption("#interval", "week");
  await loaded(`example.com ${month} 0`);
  chart.byWeek = await readChart();
  await page.selectOption("#metric", "pageviews");
  await loaded(`example.com ${month} 0`);
  chart.pageviews = await readChart();
  chart.url = new URL(page.url()).search;
  for (const period of ["day", "6mo"]) {
    await page.goto(`${footfall}/?site=example.com&period=${period}`);
    await loaded(`example.com ${period} 0`);
    chart[period] = await readChart();
  }

  // Yesterday and last month, asked for as days in the site's zone; the URL keeps their names.
  const periods = {};
  for (const period of ["yesterday", "last_month"]) {
    await page.selectOption("#period", period);
    await loaded(`example.com ${period} 0`);
    const href = await page.locator("#export-range").getAttribute("href");
    periods[period] = {
      url: new URL(page.url()).search,
      q: JSON.parse(new URL(href, footfall).searchParams.get("q")),
      visitors: await page.locator('[data-metric="visitors"] dd').textContent(),
    };
  }
  // A custom range from its form.
  await page.selectOption("#period", "custom");
  await page.getByLabel("From", { exact: true }).fill(day(siteToday, -2));
  await page.getByLabel("To", { exact: true }).fill(siteToday);
  await page.getByRole("button", { name: "Show range" }).click();
  const custom = `${day(siteToday, -2)},${siteToday}`;
  await loaded(`example.com ${custom} 0`);
  periods.custom = { url: new URL(page.url()).search, visitors: await page.locator('[data-metric="visitors"] dd').textContent() };

  // A shared link's read-only view, made as the settings page makes one; every request of the
  // view carries its token.
  const made = await (await page.request.post(`${footfall}/api/dashboard/settings`, {
    data: { command: "share_add", site: "example.com", label: "For the team" },
  })).json();
  const token = made.url.split("/share/")[1];
  const shared = { tokens: [] };
  const viewer = await context.newPage();
  viewer.on("pageerror", (e) => problems.push(String(e)));
  viewer.on("request", (r) => {
    if (new URL(r.url()).pathname.startsWith("/api/")) shared.tokens.push([new URL(r.url()).pathname, r.headers()["x-footfall-share"] ?? null]);
  });
  viewer.on("console", (m) =>
    m.type() === "error" && !m.text().startsWith("Failed to load resource") ? problems.push(m.text()) : null,
  );
  await viewer.goto(`${footfall}/share/${token}?period=day`);
  await viewer.waitForSelector('body[data-loaded="example.com day 0"]');
  const visible = (selector) => viewer.locator(selector).isVisible();
  shared.view = {
    title: await viewer.locator("h1").textContent(),
    label: await viewer.locator("#label").textContent(),
    siteSwitcher: await visible("#site"),
    signOut: await viewer.getByRole("button", { name: "Sign out" }).isVisible(),
    settings: await viewer.getByRole("link", { name: "Settings" }).count(),
    dropped: await viewer.locator('[data-panel="dropped"]').count(),
    panels: await viewer.locator("[data-panel]").evaluateAll((p) => p.map((x) => x.dataset.panel)),
    pages: await viewer.locator('[data-panel="pages"] tbody tr').evaluateAll((rows) =>
      rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent]),
    ),
    exportHref: await viewer.locator('[data-panel="pages"] a.export').getAttribute("href"),
    rangeHref: await viewer.locator("#export-range").getAttribute("href"),
  };
  await viewer.locator('[data-panel="pages"] tbody button', { hasText: "/pricing" }).click();
  await viewer.waitForSelector('body[data-loaded="example.com day 1"]');
  shared.filteredUrl = new URL(viewer.url()).pathname + new URL(viewer.url()).search;
  await viewer.goto(`${footfall}/share/${token}?period=day&embed=true`);
  await viewer.waitForSelector('body[data-loaded="example.com day 0"]');
  await viewer.selectOption("#period", "7d");
  await viewer.waitForSelector('body[data-loaded="example.com 7d 0"]');
  shared.embed = {
    bodyClass: await viewer.evaluate(() => document.body.className),
    header: await visible("header"),
    url: new URL(viewer.url()).search,
  };
  if (process.env.SCREENSHOTS) {
    await viewer.setViewportSize({ width: 800, height: 700 });
    await viewer.screenshot({ path: `${process.env.SCREENSHOTS}/dashboard-embed.png`, fullPage: true });
  }
  // Revoked while open: the next request is refused, and the view says why (no sign-in page).
  shared.token = token;
  await page.request.post(`${footfall}/api/dashboard/settings`, {
    data: { command: "share_revoke", site: "example.com", id: token.slice(0, 8) },
  });
  await viewer.selectOption("#period", "30d");
  await viewer.locator("#notice").waitFor();
  shared.revoked = { notice: await viewer.locator("#notice").textContent(), path: new URL(viewer.url()).pathname };
  await viewer.close();

  assert.deepEqual(problems, [], "the pages logged errors");
  console.log(JSON.stringify({
    home,
    cookie: { httpOnly: cookie.httpOnly, sameSite: cookie.sameSite },
    failed,
    oldSession: old.status(),
    dashboard,
    filtered,
    filteredUrl,
    restoredSame: JSON.stringify(restored) === JSON.stringify(filtered),
    chips,
    change,
    comparedLine,
    tabs,
    propKeys,
    tabsBefore,
    tabsUrl,
    tabsRestored,
    propsRestored,
    keys,
    versionChips,
    versionUrl,
    exitRows,
    panelCsv,
    rangeHref,
    rangeCsv,
    dropped,
    chart,
    periods,
    shared,
  }));
} finally {
  await browser.close();
}
