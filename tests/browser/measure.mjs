// Times the dashboard in Chromium: signs in, opens a view, and reports how long until every
// panel is filled (from the page's navigation start, and the queries' part), several times.
//
//   FOOTFALL_URL=http://127.0.0.1:PORT NAME=ann PASSWORD=… VIEW='/?site=…&period=…' node measure.mjs [runs]
import { launch } from "./chromium.mjs";

const { FOOTFALL_URL: base, NAME: name, PASSWORD: password, VIEW: view } = process.env;
const runs = Number(process.argv[2] || 5);
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${base}/login`);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}/`);
  const timings = [];
  // Each request's time, from sent to answered (responseEnd counts from startTime), and what
  // it asked, for the last load.
  let requests = [];
  page.on("requestfinished", async (request) => {
    const t = request.timing();
    const body = request.postData() ?? "";
    requests.push({ ms: Math.round(t.responseEnd), url: new URL(request.url()).pathname, body: body.slice(0, 160) });
  });
  for (let i = 0; i < runs; i++) {
    requests = [];
    await page.goto(`${base}${view}`);
    await page.waitForSelector("body[data-loaded]", { timeout: 60_000 });
    timings.push(await page.evaluate(() => ({
      filledMs: Math.round(performance.now()),
      queriesMs: Number(document.body.dataset.renderMs),
    })));
  }
  console.log(JSON.stringify(timings));
  if (process.env.REQUESTS) {
    for (const r of requests.sort((a, b) => b.ms - a.ms)) console.log(JSON.stringify(r));
  }
} finally {
  await browser.close();
}
