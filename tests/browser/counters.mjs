// Drives Debian's Chromium through the public counters, as a blog on another origin uses them.
//
//   FOOTFALL_URL=http://127.0.0.1:PORT SCREENSHOT=/path/chart.png node counters.mjs
//
// Serves one page at http://blog.test:PORT (Chromium maps *.test to 127.0.0.1) that loads
// counter.js from Footfall and shows a badge and a chart as <img>s. It reads what the page
// shows, sends more pageviews to Footfall (as the tracker would), opens the page again in a new
// browser (no cache), and checks the numbers went up. It prints one JSON line of what it saw
// and saves a screenshot of the chart.

import http from "node:http";
import assert from "node:assert/strict";
import { launch } from "./chromium.mjs";

const footfall = process.env.FOOTFALL_URL;
const screenshot = process.env.SCREENSHOT;
if (!footfall || !screenshot) {
  console.error("usage: FOOTFALL_URL=http://127.0.0.1:PORT SCREENSHOT=FILE node counters.mjs");
  process.exit(2);
}
const USER_AGENT =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/148.0.0.0 Safari/537.36";

const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A post</title>
<script defer src="${footfall}/counter.js" data-domain="open.com" data-period="all"></script>
</head><body>
<h1>A post</h1>
<p><span id="views" data-footfall-count="/post">…</span> views by
<span id="visitors" data-footfall-count="/post" data-footfall-metric="visitors">…</span> readers;
<span id="other" data-footfall-count="/other/">…</span> on the other page,
<span id="site" data-footfall-count="TOTAL">…</span> on the whole site,
<span id="hidden" data-footfall-count="/drafts/x">…</span> on a hidden one.</p>
<img id="badge" alt="views" src="${footfall}/api/counter.svg?site=open.com&path=/post&label=views">
<img id="chart" alt="visitors" width="600" height="240"
  src="${footfall}/api/chart.svg?site=open.com&path=/post&period=day&style=bars&width=600&height=240">
</body></html>`;

const server = http.createServer((request, response) => {
  response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  response.end(page);
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://blog.test:${server.address().port}`;

async function pageview(path, ip) {
  const answer = await fetch(`${footfall}/api/event`, {
    method: "POST",
    headers: { "user-agent": USER_AGENT, "x-forwarded-for": ip, "content-type": "text/plain" },
    body: JSON.stringify({ n: "pageview", u: `https://open.com${path}`, d: "open.com" }),
  });
  assert.equal(answer.status, 202);
}

/// Opens the page in a fresh browser and reads what it shows once every count is filled.
async function visit(shoot) {
  const browser = await launch();
  try {
    const tab = await browser.newPage({ userAgent: USER_AGENT, viewport: { width: 800, height: 600 } });
    const problems = [];
    tab.on("pageerror", (e) => problems.push(String(e)));
    tab.on("console", (m) => m.type() === "warning" || m.type() === "error" ? problems.push(m.text()) : null);
    await tab.goto(`${origin}/`);
    await tab.waitForFunction(
      () => document.querySelectorAll("[data-footfall-count]").length ===
        document.querySelectorAll("[data-footfall-filled]").length,
      null,
      { timeout: 10_000 },
    );
    await tab.waitForFunction(
      () => ["badge", "chart"].every((id) => {
        const img = document.getElementById(id);
        return img.complete && img.naturalWidth > 0;
      }),
      null,
      { timeout: 10_000 },
    );
    const seen = await tab.evaluate(async () => {
      const text = (id) => document.getElementById(id).textContent;
      // The number the badge shows: its SVG, fetched as the page's <img> was (CORS is open).
      const badge = await (await fetch(document.getElementById("badge").src)).text();
      const shown = [...new DOMParser().parseFromString(badge, "image/svg+xml").querySelectorAll("text")]
        .map((t) => t.textContent);
      return {
        badge: shown.join(" | "),
        views: text("views"),
        visitors: text("visitors"),
        other: text("other"),
        site: text("site"),
        hidden: text("hidden"),
        badgeWidth: document.getElementById("badge").naturalWidth,
        chartWidth: document.getElementById("chart").naturalWidth,
      };
    });
    if (shoot) await tab.locator("#chart").screenshot({ path: screenshot });
    assert.deepEqual(problems, [], "the page logged problems");
    return seen;
  } finally {
    await browser.close();
  }
}

try {
  const before = await visit(false);
  for (const ip of ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) await pageview("/post", ip);
  await pageview("/other", "203.0.113.1");
  // Live: within a few seconds, a new reader sees the new numbers.
  let after;
  const started = Date.now();
  do {
    after = await visit(false);
  } while (after.views === before.views && Date.now() - started < 10_000);
  await visit(true);
  console.log(JSON.stringify({ before, after, origin }));
} finally {
  server.close();
}
