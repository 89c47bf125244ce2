// Drives Debian's Chromium through the settings page: sign in, add a site, change its time zone
// and rules (a bad IP range first, which must be refused with its reason), add and remove a goal,
// create a shared link and open it in a fresh browser (no session) to see the site read-only,
// and revoke it. Screenshots at 1280 and 390 px.
//
//   FOOTFALL_URL=http://127.0.0.1:PORT SCREENSHOTS=DIR node settings.mjs
//
// Prints one JSON line of what the pages showed.

import assert from "node:assert/strict";
import { launch } from "./chromium.mjs";

const footfall = process.env.FOOTFALL_URL;
const shots = process.env.SCREENSHOTS;
if (!footfall || !shots) {
  console.error("usage: FOOTFALL_URL=http://127.0.0.1:PORT SCREENSHOTS=DIR node settings.mjs");
  process.exit(2);
}

const browser = await launch();
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("dialog", (d) => {
    problems.push(`dialog: ${d.message()}`);
    d.dismiss();
  });
  page.on("console", (m) =>
    m.type() === "error" && !m.text().startsWith("Failed to load resource") ? problems.push(m.text()) : null,
  );

  await page.goto(`${footfall}/login`);
  await page.getByLabel("Name").fill("ann");
  await page.getByLabel("Password").fill("a long password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${footfall}/**`);

  // From the dashboard's header to the settings of its site.
  await page.goto(`${footfall}/settings?site=example.com`);
  await page.waitForSelector('body[data-loaded="example.com"]');
  const status = page.locator("#status");
  const seen = {
    configNote: await page.locator("#in-config").isVisible(),
    timezoneDisabled: await page.locator("#timezone").isDisabled(),
    snippet: await page.locator("#snippet").textContent(),
  };

  // A new site, then its settings.
  await page.getByLabel("Domain", { exact: true }).fill("blog.example");
  await page.locator("#add-timezone").fill("Europe/Paris");
  await page.getByRole("button", { name: "Add site" }).click();
  await page.waitForSelector('body[data-loaded="blog.example"]');
  seen.added = await status.textContent();
  seen.sites = await page.locator("#site option").allTextContents();
  seen.newTimezone = await page.locator("#timezone").inputValue();

  await page.locator("#timezone").fill("Asia/Tokyo");
  await page.getByRole("button", { name: "Save time zone" }).click();
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes("Asia/Tokyo"));

  // A bad range is refused with its reason, and nothing is saved.
  await page.getByLabel(/Never recorded from these IP/).fill("10.0.0.0/8\nnot-an-ip");
  await page.getByLabel(/^Hidden from public counts/).fill("/drafts/**");
  await page.getByRole("button", { name: "Save rules" }).click();
  await page.waitForFunction(() => document.querySelector("#status.bad"));
  seen.refused = await status.textContent();
  await page.getByLabel(/Never recorded from these IP/).fill("10.0.0.0/8\n2001:db8::/32");
  await page.getByRole("button", { name: "Save rules" }).click();
  await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("saved the rules"));
  await page.reload();
  await page.waitForSelector('body[data-loaded="blog.example"]');
  seen.rules = {
    ips: await page.locator("#exclude-ips").inputValue(),
    hidden: await page.locator("#hidden-paths").inputValue(),
    timezone: await page.locator("#timezone").inputValue(),
  };

  // Goals, by keyboard: the kind, the name, Enter.
  await page.getByLabel("Kind").selectOption("event");
  await page.getByLabel("Name or path").fill("Signup");
  await page.getByLabel("Name or path").press("Enter");
  await page.waitForFunction(() => document.querySelector("#goals").textContent.includes("Signup"));
  await page.getByLabel("Kind").selectOption("page");
  await page.getByLabel("Name or path").fill("/thanks/**");
  await page.getByRole("button", { name: "Add goal" }).click();
  await page.waitForFunction(() => document.querySelector("#goals").textContent.includes("Visit /thanks/**"));
  await page.getByRole("button", { name: "Remove the goal Signup" }).click();
  await page.waitForFunction(() => !document.querySelector("#goals").textContent.includes("Signup"));
  seen.goals = await page.locator("#goals li > span:first-child").allTextContents();

  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: `${shots}/settings-1280.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/settings-390.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });

  // A shared link of example.com, opened by someone without a session.
  await page.locator("#site").selectOption("example.com");
  await page.waitForSelector('body[data-loaded="example.com"]');
  await page.getByLabel("Label", { exact: true }).fill("Team <b>board</b>");
  await page.getByRole("button", { name: "Create link" }).click();
  // The status is said once the list is drawn again.
  await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("shared"));
  assert.equal(await page.locator("#new-share").isVisible(), true);
  const url = await page.locator("#share-url").textContent();
  seen.shareListed = await page.locator("#shares li > span:first-child").allTextContents();

  const stranger = await browser.newContext();
  const view = await stranger.newPage();
  view.on("pageerror", (e) => problems.push(String(e)));
  await view.goto(url);
  await view.waitForSelector("body[data-loaded]");
  seen.shared = {
    path: new URL(view.url()).pathname.startsWith("/share/"),
    settingsLinks: await view.locator('a[href^="/settings"]:visible').count(),
    signOut: await view.getByRole("button", { name: "Sign out" }).count(),
    visitors: await view.locator('[data-metric="visitors"] dd').textContent(),
  };

  // Revoked, the same link opens nothing.
  await page.getByRole("button", { name: /^Revoke the link/ }).click();
  await page.waitForFunction(() => document.querySelector("#shares").textContent.includes("revoked"));
  const gone = await view.goto(url);
  seen.revokedStatus = gone.status();
  await stranger.close();

  // The site is removed only once its name is typed.
  await page.locator("#site").selectOption("blog.example");
  await page.waitForSelector('body[data-loaded="blog.example"]');
  await page.getByRole("button", { name: "Remove site" }).click();
  await page.waitForFunction(() => document.querySelector("#status.bad"));
  seen.unconfirmed = await status.textContent();
  await page.getByLabel("Type the domain to confirm").fill("blog.example");
  await page.getByRole("button", { name: "Remove site" }).click();
  await page.waitForSelector('body[data-loaded="example.com"]');
  seen.afterRemoval = await page.locator("#site option").allTextContents();

  assert.deepEqual(problems, [], "no script errors, CSP violations or dialogs");
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
