/*
 * Footfall's tracker. This is the readable source; `dist/script.js` is its minified build
 * (`npm run build`), which the server embeds and serves at /script.js. README.md documents every
 * attribute and the JavaScript API.
 *
 * What it promises the people whose pages load it: no cookies, nothing written to storage (the
 * one exception is the site owner's own opt-out flag, set by opening a page with
 * #footfall-ignore), no fingerprinting, no timer pinging the server. It sends one small request
 * per pageview and per event, and one when a page is hidden or left.
 *
 * Every page of every site loads this file, so bytes count here more than anywhere. The idioms
 * are chosen for what they minify and compress to (terser mangles every local name below), and
 * a test keeps the gzipped build within its budget.
 */
((window, document, location, navigator, on) => {
  const script = document.currentScript;
  const src = script.src;
  const attribute = (name) => script.getAttribute("data-" + name);
  // A switch is on with its `data-` attribute or with its name in the script's file name, so that
  // Plausible's variants (script.hash.js, script.local.js, …) keep working when moved over.
  const option = (name) => attribute(name) != null || src.includes("." + name + ".");
  // A comma-separated list of globs → one regular expression matching to the end: `*` stays
  // within a path segment, `**` crosses segments, every other character matches itself.
  const globs = (list, start, flags) =>
    list &&
    RegExp(
      start +
        "(" +
        list
          .replace(/[^\w\s*,/-]/g, "\\$&")
          .replace(/\s*,\s*/g, "|")
          .replace(/\*\*?/g, (stars) => (stars[1] ? ".*" : "[^/]*")) +
        ")$",
      flags,
    );

  const api = attribute("api") || new URL("/api/event", src);
  const hashMode = option("hash");
  // Manual mode: the site sends its own pageviews with footfall("pageview", {u}), as Plausible's
  // script.manual.js users do; counting automatically as well would count every page twice.
  const automatic = !option("manual");
  const include = globs(attribute("include"), "^");
  const exclude = globs(attribute("exclude"), "^");
  const downloads =
    globs(attribute("download-extensions"), "\\.", "i") ||
    /\.(pdf|docx?|xlsx?|pptx?|odt|csv|txt|zip|rar|7z|gz|exe|dmg|pkg|apk|mp[34]|mov)$/i;

  // Nothing is sent from a developer's machine (or a file) or from automated browsers unless the
  // page asks for it (data-local, or Plausible's script.local.js): that is how tests run it.
  let refused =
    (!option("local") &&
      (/^(localhost|127\.|\[::1\]|$)/.test(location.hostname) ||
        navigator.webdriver ||
        /headless/i.test(navigator.userAgent))) ||
    (option("respect-dnt") && (navigator.doNotTrack == "1" || navigator.globalPrivacyControl));
  // The owner's own browser opts out (and back in) through a URL fragment, remembered in
  // localStorage because that is the one place that outlives the visit; opting back in removes
  // the flag, so storage is left as it was found. Storage may be off (privacy modes, sandboxed
  // frames) and then throws: the page is tracked as any other. Two plain comparisons gzip
  // smaller than one regular expression.
  try {
    if (location.hash == "#footfall-ignore") localStorage.footfall_ignore = true;
    if (location.hash == "#footfall-track") delete localStorage.footfall_ignore;
    refused ||= localStorage.footfall_ignore == "true";
  } catch {}

  const route = () => location.pathname + (hashMode ? location.hash : "");

  // Sends one event in the Events API's short form; undefined fields are left out.
  const send = (n, u, options, engagement) => {
    const body = JSON.stringify({
      n,
      u,
      d: attribute("domain") || location.hostname,
      r: document.referrer,
      h: +hashMode,
      p: options.props,
      i: options.interactive,
      ...engagement,
    });
    const done = options.callback || (() => {});
    // A string body goes as text/plain: a simple request, so no CORS preflight. keepalive lets the
    // request outlive the page; where fetch cannot keep a request alive, sendBeacon can.
    if ("keepalive" in Request.prototype)
      fetch(api, { method: "POST", body, keepalive: true }).then(done, done);
    else done(navigator.sendBeacon(api, body));
  };

  // The page on show: the URL its events go under (false while they are not sent), the route it
  // was counted for, the deepest scroll in %, the visible time not reported yet, and since when the
  // clock has been running (0 when it is stopped).
  let trackedUrl, lastRoute, depth;
  let engaged = 0;
  let shownAt = 0;
  const measureDepth = () => {
    // Truncated to a whole percent; overscroll can exceed 100, which the server clamps.
    depth = Math.max(depth, ((scrollY + innerHeight) / document.documentElement.scrollHeight) * 100 | 0);
  };
  // Adds the time since the clock started, restarts it if the page is still on show, and reports
  // what was not reported yet. Scrolling needs visible time, so nothing new means nothing to send.
  // `leaving`: the page is going away (pagehide) while the document still counts as visible.
  const report = (leaving) => {
    engaged += shownAt && Date.now() - shownAt;
    shownAt = !leaving && !document.hidden && Date.now();
    if (trackedUrl && engaged) {
      measureDepth();
      send("engagement", trackedUrl, {}, { e: engaged, sd: depth });
      engaged = 0;
    }
  };

  // The JavaScript API: footfall(name, {props, callback, u, interactive}), Plausible's shape.
  const track = (name, options = {}) => {
    const path = route();
    const url = options.u || location.href;
    const skip = refused || (include && !include.test(path)) || exclude?.test(path);
    if (name == "pageview") {
      // The page before this one (in a single-page app) reports its engagement first.
      report();
      trackedUrl = !skip && url;
      engaged = depth = 0;
      measureDepth();
    }
    // The callback runs even when nothing is sent, so code waiting on it (a form submit) goes on.
    skip ? options.callback?.() : send(name, url, options);
  };

  // A pageview when the route changed: single-page apps push and replace state for many reasons,
  // and a pageview should mean the visitor saw a different page.
  const page = () => {
    if (route() != lastRoute) {
      lastRoute = route();
      track("pageview");
    }
  };
  if (automatic) {
    for (const method of ["pushState", "replaceState"]) {
      const original = history[method];
      history[method] = function () {
        original.apply(this, arguments);
        page();
      };
    }
    on("popstate", page);
    if (hashMode) on("hashchange", page);
    // A prerendered page (speculation rules) counts once it is actually shown, if ever.
    if (document.prerendering) document.addEventListener("prerenderingchange", page);
    else page();
  }

  on("scroll", measureDepth);
  on("visibilitychange", () => report());
  on("pagehide", () => report(1));
  // Back/forward cache: the page comes back without running this script again. A new view; the
  // old one reported its engagement when it was left.
  on("pageshow", (event) => {
    if (event.persisted && automatic) {
      lastRoute = trackedUrl = 0;
      page();
    }
  });

  // Clicks, left or middle: tagged elements, outbound links and file downloads.
  const click = ({ target, button }) => {
    if (button > 1 || !target.closest) return;
    const tagged = target.closest("[data-footfall-event],[class*=-event-name]");
    if (tagged) {
      const props = {};
      let name = tagged.dataset.footfallEvent;
      // class="footfall-event-name=Signup footfall-event-plan=pro" (+ stands for a space);
      // Plausible's plausible-event-* classes read the same.
      (tagged.getAttribute("class") + "").replace(
        /(footfall|plausible)-event-([^=\s]+)=(\S+)/g,
        (_, __, key, value) => {
          value = value.replace(/\+/g, " ");
          key == "name" ? (name = value) : (props[key] = value);
        },
      );
      name && track(name, { props });
    }
    // Links are recorded without query string or fragment, which often carry personal data.
    // mailto:, tel: and javascript: links have no host.
    const link = target.closest("a[href]");
    if (link?.host) {
      const props = { props: { url: link.origin + link.pathname } };
      if (downloads.test(link.pathname)) option("no-downloads") || track("File Download", props);
      else if (link.host != location.host) option("no-outbound") || track("Outbound Link: Click", props);
    }
  };
  on("click", click);
  on("auxclick", click);

  // Calls queued before the script loaded (see README.md) are replayed in order.
  const queued = [...(window.footfall?.q || []), ...(window.plausible?.q || [])];
  window.footfall = window.plausible = track;
  for (const args of queued) track(...args);
  // The listeners sit on the window: visibilitychange and clicks bubble up to it from the
  // document. addEventListener is called unbound, which means the window.
})(window, document, location, navigator, addEventListener);
