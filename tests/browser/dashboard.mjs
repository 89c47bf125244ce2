// Drives Debian's Chromium through the owner's sign-in: the first-run link, the home page,
// signing out, a failed sign-in, signing in again, and an old session that no longer works.
//
//   FOOTFALL_URL=http://127.0.0.1:PORT SETUP=TOKEN node dashboard.mjs
//
// Prints one JSON line of what the pages showed.

import assert from "node:assert/strict";
import { launch } from "./chromium.mjs";

const footfall = process.env.FOOTFALL_URL;
const setup = process.env.SETUP;
if (!footfall || !setup) {
  console.error("usage: FOOTFALL_URL=http://127.0.0.1:PORT SETUP=TOKEN node dashboard.mjs");
  process.exit(2);
}

const browser = await launch();
try {
  const context = await browser.newContext();
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
  }));
} finally {
  await browser.close();
}
