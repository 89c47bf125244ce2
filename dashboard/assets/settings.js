// The settings page: one site's snippet, time zone, public counters, rules, goals and shared
// links, and adding or removing sites. Every change is one POST /api/dashboard/settings, which
// runs the same command as the command line. Server values are set with textContent only.

import { $, element } from "./dom.js";

function say(text, bad = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("bad", bad);
}

async function call(method, path, body) {
  const answer = await fetch(path, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (answer.status === 401) {
    location.assign("/login");
    throw new Error("signed out");
  }
  const json = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(json.error ?? `the server answered ${answer.status}`);
  return json;
}

/// Runs one change, shows the site as it now is, then says what the change did (so what the
/// page says is never older than what it shows).
async function change(body, then) {
  try {
    const done = await call("POST", "/api/dashboard/settings", body);
    // First what the change made (a new link's address is shown once), then the site as it is.
    if (then) then(done);
    await show(body.domain ?? body.site);
    say(done.message);
    return done;
  } catch (e) {
    say(e.message, true);
    return null;
  }
}

const lines = (text) => text.split("\n").map((l) => l.trim()).filter(Boolean);
let current = "";
let shows = 0;

/// Shows a site's settings; a slower answer to an older call draws nothing.
async function show(site) {
  const run = ++shows;
  delete document.body.dataset.loaded;
  const me = await call("GET", "/api/dashboard/me");
  if (run !== shows) return;
  $("owner").textContent = `Signed in as ${me.owner}`;
  const select = $("site");
  select.replaceChildren(...me.sites.map((s) => element("option", s.domain, { value: s.domain })));
  const known = me.sites.some((s) => s.domain === site);
  current = known ? site : me.sites[0]?.domain ?? "";
  $("settings").hidden = !current;
  if (!current) {
    document.body.dataset.loaded = "none";
    return;
  }
  select.value = current;
  history.replaceState(null, "", `/settings?site=${encodeURIComponent(current)}`);
  $("back").href = `/?site=${encodeURIComponent(current)}`;
  const s = await call("GET", `/api/dashboard/settings?site=${encodeURIComponent(current)}`);
  if (run !== shows) return;
  $("snippet").textContent = s.snippet;
  $("ignore-link").textContent = s.ignore_link;
  $("ignore-link").href = s.ignore_link;
  $("in-config").hidden = !s.site.in_config;
  for (const form of document.querySelectorAll("form.editable")) {
    for (const control of form.elements) control.disabled = s.site.in_config;
  }
  $("timezone").value = s.site.timezone;
  $("public-counters").checked = s.site.public_counters;
  $("hidden-paths").value = s.site.hidden_paths.join("\n");
  $("exclude-paths").value = s.site.exclude_paths.join("\n");
  $("exclude-ips").value = s.site.exclude_ips.join("\n");
  drawGoals(s.goals);
  drawShares(s.shares);
  document.body.dataset.loaded = current;
}

function drawGoals(goals) {
  const list = $("goals");
  list.replaceChildren();
  if (!goals.length) list.append(element("li", "No goals yet.", { class: "muted" }));
  for (const goal of goals) {
    const item = element("li");
    item.append(element("span", goal.name));
    if (goal.in_config) {
      item.append(element("span", "config file", { class: "muted" }));
    } else {
      const remove = element("button", "Remove", { type: "button", class: "plain", "aria-label": `Remove the goal ${goal.name}` });
      remove.addEventListener("click", () =>
        change({ command: "goal_remove", site: current, page: goal.page, event: goal.event }),
      );
      item.append(remove);
    }
    list.append(item);
  }
}

function drawShares(shares) {
  const list = $("shares");
  list.replaceChildren();
  if (!shares.length) list.append(element("li", "No shared links yet.", { class: "muted" }));
  for (const link of shares) {
    const item = element("li", undefined, { "data-share": link.id });
    const what = `${link.label || "Unlabelled"} · ${link.created_at}${link.has_password ? " · password" : ""}`;
    item.append(element("span", what));
    if (link.revoked) {
      item.append(element("span", "revoked", { class: "muted" }));
    } else {
      const revoke = element("button", "Revoke", { type: "button", class: "plain", "aria-label": `Revoke the link ${link.label || link.id}` });
      revoke.addEventListener("click", () => change({ command: "share_revoke", site: current, id: link.id }));
      item.append(revoke);
    }
    list.append(item);
  }
}

function on(id, handler) {
  $(id).addEventListener("submit", (event) => {
    event.preventDefault();
    handler();
  });
}

function start() {
  const zones = Intl.supportedValuesOf?.("timeZone") ?? ["UTC"];
  $("timezones").replaceChildren(...["UTC", ...zones].map((z) => element("option", undefined, { value: z })));
  $("add-timezone").value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  $("site").addEventListener("change", (e) => show(e.target.value));
  $("copy-snippet").addEventListener("click", async () => {
    await navigator.clipboard?.writeText($("snippet").textContent);
    say("Copied the snippet.");
  });
  on("timezone-form", () => change({ command: "site_timezone", domain: current, timezone: $("timezone").value.trim() }));
  on("counters-form", () => change({ command: "site_counters", domain: current, enabled: $("public-counters").checked }));
  on("rules-form", () =>
    change({
      command: "site_rules",
      domain: current,
      hidden_paths: lines($("hidden-paths").value),
      exclude_paths: lines($("exclude-paths").value),
      exclude_ips: lines($("exclude-ips").value),
    }),
  );
  on("goal-form", async () => {
    const kind = $("goal-kind").value;
    const value = $("goal-value").value.trim();
    const done = await change({ command: "goal_add", site: current, [kind]: value });
    if (done) $("goal-value").value = "";
  });
  on("share-form", () =>
    change(
      { command: "share_add", site: current, label: $("share-label").value, password: $("share-password").value },
      (done) => {
        $("share-url").textContent = done.url;
        $("share-embed").textContent = `<iframe src="${done.url}?embed=true" loading="lazy" style="width:100%;height:1600px;border:0"></iframe>`;
        $("new-share").hidden = false;
        $("share-label").value = "";
        $("share-password").value = "";
      },
    ),
  );
  on("remove-form", () => {
    if ($("remove-confirm").value.trim() !== current) {
      say(`Type ${current} to confirm.`, true);
      return;
    }
    change({ command: "site_remove", domain: current, purge: $("purge").checked }, () => {
      $("remove-confirm").value = "";
    });
  });
  on("add-form", () =>
    change(
      {
        command: "site_add",
        domain: $("add-domain").value.trim(),
        timezone: $("add-timezone").value.trim(),
        public_counters: $("add-counters").checked,
      },
      () => {
        $("add-domain").value = "";
      },
    ),
  );
  show(new URLSearchParams(location.search).get("site") ?? "").catch((e) => say(e.message, true));
}

start();
