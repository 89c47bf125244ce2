// Drives Debian's Chromium through one scenario of the tracker's browser tests.
//
//   FOOTFALL_URL=http://127.0.0.1:PORT node drive.mjs <scenario>
//
// It serves the small site in site/ on 127.0.0.1 under the names site.test and elsewhere.test
// (Chromium maps *.test to 127.0.0.1), and puts the Footfall server under test behind a recording
// pass-through at stats.test, so the pages load the tracker from another origin, as on the web,
// and the driver sees every event arrive, even those sent by a page as it unloads (which the
// browser's own request events miss). It walks through the scenario, waits until every event it
// causes has been answered, checks what the browser saw, and prints one JSON line of what was
// sent. The Rust test that runs it (tests/tracker.rs) then stops the server and checks what
// landed in DuckDB.

import http from "node:http";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { CHROMIUM_FLAGS } from "./chromium.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const footfall = process.env.FOOTFALL_URL;
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const scenario = process.argv[2];
if (!footfall || !scenario) {
  console.error("usage: FOOTFALL_URL=http://127.0.0.1:PORT node drive.mjs <scenario>");
  process.exit(2);
}

/// An ordinary desktop browser: the server's bot filter would drop HeadlessChrome, rightly.
const USER_AGENT =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/148.0.0.0 Safari/537.36";
const FLAGS = [
  ...CHROMIUM_FLAGS,
  // For the whole browser, not only per page: a request a page leaves behind as it unloads (a
  // keepalive fetch) goes out without the page's overrides.
  `--user-agent=${USER_AGENT}`,
];
const WAIT_MS = 15_000;

// ---------------------------------------------------------------------------------------------
// Footfall behind a recording pass-through, and the site: static pages, plus a same-origin
// reverse proxy to Footfall (/js/script.js and /api/event), the setup README.md documents for
// serving the tracker from the site's own domain.

const sent = []; // every event body that reached Footfall, in order of arrival
const answers = []; // Footfall's status for each of them
const pixels = []; // query strings of pixel requests, with Footfall's status
const requested = []; // every request the site got: [path, Sec-Purpose]
const purposes = []; // the Sec-Purpose header (prefetch, prerender) of each event sent
const DROPPED_HEADERS = ["content-encoding", "content-length", "connection", "transfer-encoding"];
const types = { ".html": "text/html", ".pdf": "application/pdf", ".js": "text/javascript" };

/// Forwards a request to Footfall as a reverse proxy does (the client's address in
/// X-Forwarded-For, which Footfall trusts from 127.0.0.1), and records the events.
async function forward(request, response, body) {
  const headers = { "x-forwarded-for": request.socket.remoteAddress };
  for (const name of ["user-agent", "content-type", "origin", "referer", "dnt", "sec-gpc"]) {
    if (request.headers[name]) headers[name] = request.headers[name];
  }
  const upstream = await fetch(footfall + request.url, {
    method: request.method,
    headers,
    body: request.method == "POST" ? body : undefined,
  });
  const bytes = Buffer.from(await upstream.arrayBuffer());
  const path = new URL(request.url, "http://x").pathname;
  if (path == "/api/event" && request.method == "POST") {
    sent.push(JSON.parse(body));
    answers.push(upstream.status);
    purposes.push(request.headers["sec-purpose"] || "");
  }
  if (path == "/api/event.gif") pixels.push({ query: request.url.split("?")[1], status: upstream.status });
  const relayed = {};
  upstream.headers.forEach((value, name) => {
    if (!DROPPED_HEADERS.includes(name)) relayed[name] = value;
  });
  response.writeHead(upstream.status, relayed);
  response.end(bytes);
}

const readBody = (request) =>
  new Promise((resolve) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString()));
  });

const stats = http.createServer(async (request, response) => {
  try {
    await forward(request, response, await readBody(request));
  } catch (error) {
    response.writeHead(502).end(String(error));
  }
});
await new Promise((resolve) => stats.listen(0, "127.0.0.1", resolve));
const statsOrigin = `http://stats.test:${stats.address().port}`;

const site = http.createServer((request, response) => {
  readBody(request).then(async (body) => {
    try {
      const path = new URL(request.url, "http://x").pathname;
      requested.push([path, request.headers["sec-purpose"] || ""]);
      if (path == "/api/event" || path == "/js/script.js") {
        return await forward(request, response, body);
      }
      let file = path == "/" ? "index.html" : path.startsWith("/spa") ? "spa.html" : path.slice(1);
      if ((request.headers.host || "").startsWith("elsewhere.test")) file = "landing.html";
      file = normalize(file);
      if (file.startsWith("..")) throw new Error("outside the site");
      const text = readFileSync(join(here, "site", file))
        .toString("latin1")
        .replaceAll("{{FOOTFALL}}", statsOrigin)
        .replaceAll("{{PORT}}", String(port));
      response.writeHead(200, { "content-type": types[extname(file)] || "text/plain" });
      response.end(Buffer.from(text, "latin1"));
    } catch {
      response.writeHead(404).end("not found");
    }
  });
});
await new Promise((resolve) => site.listen(0, "127.0.0.1", resolve));
const port = site.address().port;
const origin = `http://site.test:${port}`;

// ---------------------------------------------------------------------------------------------
// The browser.

async function launch(options = {}) {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: FLAGS,
    ignoreDefaultArgs: options.ignoreDefaultArgs,
  });
  const context = await browser.newContext({
    userAgent: USER_AGENT,
    viewport: { width: 1280, height: 720 },
    javaScriptEnabled: options.javaScriptEnabled ?? true,
  });
  return { browser, context };
}

/// Waits until `check` holds, or fails with `what`.
async function until(check, what) {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; sent so far: ${JSON.stringify(sent)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
const named = (name) => sent.filter((event) => event.n == name);
const pageviews = () => named("pageview").map((event) => new URL(event.u).pathname);
/// Waits for `count` answers, then a little longer, so that an event sent twice would show.
async function settle(count, what) {
  await until(() => answers.length >= count, what);
  await new Promise((resolve) => setTimeout(resolve, 400));
}

// ---------------------------------------------------------------------------------------------
// The scenarios.

const scenarios = {
  // A pageview with referrer and campaign tags, a second page, and the first page's engagement.
  async pageview() {
    const { browser, context } = await launch();
    const page = await context.newPage();
    await page.goto(`${origin}/?utm_source=newsletter&utm_medium=email&utm_campaign=spring`, {
      referer: "https://news.ycombinator.com/item?id=42",
    });
    await until(() => answers.length == 1, "the first pageview");
    assert.deepEqual(
      await page.evaluate(() => [document.cookie, localStorage.length, sessionStorage.length]),
      ["", 0, 0],
      "no cookie, nothing in storage",
    );
    await page.click("#about");
    await page.waitForURL("**/about.html");
    await settle(3, "the engagement of / and the pageview of /about.html");
    assert.deepEqual(pageviews(), ["/", "/about.html"]);
    assert.equal(named("engagement").length, 1);
    await browser.close();
  },

  // Single-page navigation: one pageview per route, none for a state change on the same route.
  async spa() {
    const { browser, context } = await launch();
    const page = await context.newPage();
    await page.goto(`${origin}/spa/`);
    const expect = async (routes, what) => {
      await until(() => pageviews().length >= routes.length, what);
      assert.deepEqual(pageviews(), routes, what);
    };
    await expect(["/spa/"], "the first route");
    await page.evaluate(() => go("/spa/b"));
    await expect(["/spa/", "/spa/b"], "pushState to /spa/b");
    await page.evaluate(() => go("/spa/c"));
    await expect(["/spa/", "/spa/b", "/spa/c"], "pushState to /spa/c");
    await page.evaluate(() => swap("/spa/c?tab=2")); // the same route: no pageview
    await page.evaluate(() => go("/spa/c?tab=3")); // the same route: no pageview
    await page.evaluate(() => swap("/spa/d"));
    await expect(["/spa/", "/spa/b", "/spa/c", "/spa/d"], "replaceState to /spa/d");
    await page.evaluate(() => history.back()); // popstate, back to /spa/c?tab=2
    await expect(["/spa/", "/spa/b", "/spa/c", "/spa/d", "/spa/c"], "popstate back to /spa/c");
    await settle(sent.length, "the last answers");
    assert.deepEqual(pageviews(), ["/spa/", "/spa/b", "/spa/c", "/spa/d", "/spa/c"], "none twice");
    await browser.close();
  },

  // Tagged elements, custom events (queued, footfall(), plausible() with a callback), a download,
  // a mailto: link that is no outbound link, and an outbound link, middle- and left-clicked.
  async clicks() {
    const { browser, context } = await launch();
    const page = await context.newPage();
    await page.goto(`${origin}/clicks.html`);
    await until(() => answers.length == 2, "the pageview and the queued event");
    await page.click("#tagged");
    await page.click("#inner");
    await page.evaluate(() => footfall("Signup", { props: { plan: "pro" } }));
    const callback = await page.evaluate(
      () =>
        new Promise((resolve) =>
          plausible("Legacy Signup", { props: { plan: "basic" }, callback: () => resolve("called") }),
        ),
    );
    assert.equal(callback, "called", "plausible()'s callback runs once the event is sent");
    await page.click("#mail");
    const download = page.waitForEvent("download");
    await page.click("#download");
    await download;
    await until(() => answers.length == 7, "the tagged, custom and download events");
    await page.click("#outbound", { button: "middle" });
    await until(() => answers.length == 8, "the middle-clicked outbound link");
    await page.click("#outbound");
    await page.waitForURL("**/landing?session=secret");
    await settle(10, "the outbound click and the engagement of the page left");
    assert.deepEqual(
      sent.map((event) => event.n).sort(),
      [
        "pageview",
        "Queued",
        "Tagged Click",
        "Data Event",
        "Signup",
        "Legacy Signup",
        "File Download",
        "Outbound Link: Click",
        "Outbound Link: Click",
        "engagement",
      ].sort(),
    );
    await browser.close();
  },

  // Engagement of a page read half-way and then closed, which hides it. The page loads the
  // tracker from its own origin, through a reverse proxy (README.md).
  async engagement() {
    const { browser, context } = await launch();
    const page = await context.newPage();
    await page.goto(`${origin}/long.html`);
    await until(() => answers.length == 1, "the pageview through the proxy");
    await page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight / 2));
    await page.waitForTimeout(1200);
    await page.evaluate(() => scrollTo(0, 0));
    await page.close({ runBeforeUnload: true });
    await settle(2, "the engagement event of the closed tab");
    const [pageview, engagement] = sent;
    assert.equal(new URL(pageview.u).origin, origin, "sent to the site's own origin");
    assert.equal(engagement.n, "engagement");
    assert.ok(engagement.e >= 1000, `engaged time ${engagement.e} ms`);
    assert.ok(engagement.sd >= 50 && engagement.sd <= 100, `deepest scroll ${engagement.sd} %`);
    await browser.close();
  },

  // Routes in the fragment, switched on by data-hash or by Plausible's script.hash.js name.
  async hash() {
    const { browser, context } = await launch();
    const page = await context.newPage();
    await page.goto(`${origin}/hash.html#/inbox`);
    await until(() => answers.length == 1, "the first hash route");
    await page.evaluate(() => (location.hash = "#/settings"));
    await until(() => named("pageview").length == 2, "the second hash route");
    await page.goto(`${origin}/hash-variant.html#/a`);
    await settle(4, "the variant's pageview");
    assert.deepEqual(
      named("pageview").map((event) => [new URL(event.u).hash, event.h]),
      [
        ["#/inbox", 1],
        ["#/settings", 1],
        ["#/a", 1],
      ],
    );
    await browser.close();
  },

  // Nothing sent: under automation without data-local, with the owner's opt-out (pageviews,
  // custom events, clicks, engagement), with Do Not Track on a page that respects it. Then the
  // opt-out is lifted and pages count again, and a frame whose storage throws counts as usual.
  async ignored() {
    const { browser, context } = await launch();
    const page = await context.newPage();
    /// Takes `step`, lets the page it leads to load and stay on show long enough to have
    /// engagement to report, and checks that nothing was sent meanwhile.
    const quiet = async (step, what) => {
      const before = sent.length;
      await step();
      await page.waitForLoadState("load");
      await page.waitForTimeout(600);
      assert.equal(sent.length, before, what);
    };
    const visit = (path) => () => page.goto(origin + path);
    const stored = () => page.evaluate(() => [localStorage.getItem("footfall_ignore"), localStorage.length]);
    await quiet(visit("/auto.html"), "an automated browser without data-local sends nothing");
    await quiet(visit("/about.html#footfall-ignore"), "#footfall-ignore: nothing for the page that sets it");
    assert.deepEqual(await stored(), ["true", 1], "#footfall-ignore sets localStorage.footfall_ignore");
    await quiet(async () => {
      const callback = await page.evaluate(
        () => new Promise((resolve) => footfall("Signup", { callback: () => resolve("called") })),
      );
      assert.equal(callback, "called", "the callback of an event not sent runs all the same");
    }, "no custom event");
    await quiet(async () => {
      await page.click("#home");
      await page.waitForURL(`${origin}/`);
    }, "no pageview of the next page, and no engagement of the page left");
    await quiet(async () => {
      await visit("/clicks.html")();
      await page.click("#tagged");
    }, "no queued event, no tagged click, no engagement");

    // #footfall-track removes the flag; that page and the pages after it count.
    await page.goto(`${origin}/about.html#footfall-track`);
    await until(() => answers.length == 1, "#footfall-track turns it back on");
    assert.deepEqual(await stored(), [null, 0], "#footfall-track removes the flag");
    await page.click("#home");
    await page.waitForURL(`${origin}/`);
    await settle(3, "the engagement of /about.html and the pageview of /");
    assert.deepEqual(pageviews(), ["/about.html", "/"]);
    assert.deepEqual(named("engagement").map((event) => new URL(event.u).pathname), ["/about.html"]);

    // A frame sandboxed without allow-same-origin, where reading localStorage throws: the tracker
    // goes on as on any page, so its #footfall-ignore is not honoured (nor stored anywhere).
    await page.goto(`${origin}/sandboxed.html`);
    await until(() => pageviews().length == 3, "the pageview of the sandboxed frame");
    const framed = page.frames().find((frame) => frame.url().includes("/framed.html"));
    assert.equal(
      await framed.evaluate(() => {
        try {
          localStorage;
        } catch (error) {
          return error.name;
        }
      }),
      "SecurityError",
      "localStorage throws in the frame",
    );
    assert.deepEqual(await stored(), [null, 0], "the frame wrote nothing");
    await page.close({ runBeforeUnload: true });
    await settle(6, "the engagement of / and of the frame closed");
    assert.deepEqual(pageviews(), ["/about.html", "/", "/framed.html"]);
    assert.deepEqual(
      named("engagement").map((event) => new URL(event.u).pathname),
      ["/about.html", "/", "/framed.html"],
    );
    await browser.close();

    // Do Not Track, switched on the way a person does: in the browser's preferences.
    const profile = mkdtempSync(join(tmpdir(), "footfall-dnt-"));
    mkdirSync(join(profile, "Default"));
    writeFileSync(join(profile, "Default", "Preferences"), JSON.stringify({ enable_do_not_track: true }));
    const dnt = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      args: FLAGS,
      userAgent: USER_AGENT,
    });
    const dntPage = await dnt.newPage();
    await dntPage.goto(`${origin}/dnt.html`);
    assert.equal(await dntPage.evaluate(() => navigator.doNotTrack), "1");
    await dntPage.waitForTimeout(600);
    assert.equal(sent.length, 6, "data-respect-dnt and DNT on: nothing sent");
    await dntPage.goto(`${origin}/`);
    await settle(7, "a page without data-respect-dnt counts");
    assert.deepEqual(pageviews(), ["/about.html", "/", "/framed.html", "/"]);
    await dnt.close();
    rmSync(profile, { recursive: true, force: true });
  },

  // The owner's switches: excluded and included paths, another list of download extensions,
  // outbound links off, and manual pageviews.
  async options() {
    const { browser, context } = await launch();
    const page = await context.newPage();
    const visit = async (path) => {
      await page.goto(origin + path);
      await page.waitForLoadState("load");
    };
    await visit("/options.html");
    await until(() => answers.length == 1, "the pageview of /options.html");
    const download = page.waitForEvent("download");
    await page.click("#pdf"); // not in data-download-extensions
    await download;
    const book = page.waitForEvent("download");
    await page.click("#epub");
    await book;
    await until(() => named("File Download").length == 1, "the download of the book");
    await page.click("#outbound"); // data-no-outbound
    await page.waitForURL("**/landing");
    for (const path of ["/private/secret.html", "/drafts/a.html", "/drafts/deep/b.html"]) {
      await visit(path);
    }
    await until(() => pageviews().length == 2, "the page deeper than /drafts/*");
    await visit("/include.html");
    await visit("/blog/post.html");
    await until(() => pageviews().length == 3, "the page data-include lets through");
    await visit("/manual.html");
    await page.evaluate(() => history.pushState({}, "", "/manual/next"));
    await page.evaluate(() => footfall("pageview", { u: location.origin + "/virtual/page" }));
    await until(() => pageviews().length == 4, "the manual pageview");
    await settle(answers.length, "the last answers");
    assert.deepEqual(pageviews(), ["/options.html", "/drafts/deep/b.html", "/blog/post.html", "/virtual/page"]);
    assert.deepEqual(
      sent.filter((event) => !["pageview", "engagement"].includes(event.n)).map((event) => event.p.url),
      [`${origin}/files/book.epub`],
    );
    await browser.close();
  },

  // Scripts off: the <noscript> pixel records the page.
  async pixel() {
    const { browser, context } = await launch({ javaScriptEnabled: false });
    const page = await context.newPage();
    const pixel = page.waitForResponse((response) => response.url().includes("/api/event.gif"));
    await page.goto(`${origin}/nojs.html`);
    const response = await pixel;
    assert.equal(response.status(), 200);
    assert.equal(response.headers()["content-type"], "image/gif");
    await page.waitForTimeout(400);
    assert.deepEqual(pixels, [{ query: "d=site.test", status: 200 }]);
    assert.equal(sent.length, 0, "the script did not run");
    await browser.close();
  },

  // A page prerendered through speculation rules counts only once it is shown. Chromium turns
  // prerendering off while DevTools (Playwright) is attached ("PrerenderingDisabledByDevTools"),
  // so this one runs the browser bare, and the page moves on by itself after two seconds.
  async prerender() {
    const profile = mkdtempSync(join(tmpdir(), "footfall-prerender-"));
    const chrome = spawn(chromiumPath, [...FLAGS, `--user-data-dir=${profile}`, `${origin}/prerender.html`], {
      stdio: "ignore",
      detached: true, // its own process group, so that stopping it stops its helpers too
    });
    try {
      const prerendered = () => requested.some(([path, purpose]) => path == "/about.html" && purpose.includes("prerender"));
      await until(prerendered, "Chromium prerendering /about.html");
      await until(() => pageviews().length == 2, "the prerendered page, once shown");
      await settle(answers.length, "the last answers");
      assert.deepEqual(pageviews(), ["/prerender.html", "/about.html"]);
      assert.ok(
        purposes.every((purpose) => purpose == ""),
        `nothing sent while prerendering: ${purposes}`,
      );
      assert.equal(
        requested.filter(([path]) => path == "/about.html").length,
        1,
        "the page shown was the prerendered one, not a new load",
      );
    } finally {
      const exited = new Promise((resolve) => chrome.once("exit", resolve));
      process.kill(-chrome.pid, "SIGTERM");
      await exited;
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  },

  // Back/forward cache: the page comes back without loading, and counts once more.
  async bfcache() {
    // Playwright turns the cache off by default; a person's browser has it on.
    const { browser, context } = await launch({ ignoreDefaultArgs: ["--disable-back-forward-cache"] });
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    await until(() => answers.length == 1, "the first pageview");
    await page.evaluate(() => (window.restored = "from the cache"));
    await page.click("#about");
    await page.waitForURL("**/about.html");
    await until(() => pageviews().length == 2, "the second page");
    await page.goBack({ waitUntil: "commit" });
    await until(() => pageviews().length == 3, "the restored page");
    assert.equal(await page.evaluate(() => window.restored), "from the cache", "restored, not reloaded");
    await settle(sent.length, "the last answers");
    assert.deepEqual(pageviews(), ["/", "/about.html", "/"]);
    await browser.close();
  },
};

const run = scenarios[scenario];
if (!run) {
  console.error(`unknown scenario ${scenario}; known: ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}
const guard = setTimeout(() => {
  console.error(`scenario ${scenario} did not finish in 90 s`);
  process.exit(1);
}, 90_000);
try {
  await run();
  assert.ok(
    answers.every((status) => status == 202),
    `every event is accepted: ${answers}`,
  );
  console.log(JSON.stringify({ scenario, origin, sent, pixels }));
} catch (error) {
  console.error(error.stack || String(error));
  process.exitCode = 1;
} finally {
  clearTimeout(guard);
  for (const server of [site, stats]) {
    server.close();
    server.closeAllConnections();
  }
}
