//! Files pages load from the server, compiled in: the public `counter.js`, and the owner's
//! dashboard (plain HTML, CSS and ES modules; no build step, nothing from another origin).

/// `/counter.js`: fills `data-footfall-count` elements with their public counts in one request.
pub const COUNTER_JS: &str = include_str!("../assets/counter.js");

/// The sign-in page; `<!--message-->` is where the server puts an escaped error.
pub const LOGIN_HTML: &str = include_str!("../assets/login.html");
/// The first-run page that creates the first owner; `<!--token-->` and `<!--message-->` are
/// filled by the server, escaped.
pub const SETUP_HTML: &str = include_str!("../assets/setup.html");
/// The password form of a shared link that has one; `<!--embed-->` and `<!--message-->` are
/// filled by the server, escaped.
pub const SHARE_HTML: &str = include_str!("../assets/share.html");
/// The settings page of a site, and its script.
pub const SETTINGS_HTML: &str = include_str!("../assets/settings.html");
pub const SETTINGS_JS: &str = include_str!("../assets/settings.js");
/// The dashboard's page, for a signed-in owner.
pub const INDEX_HTML: &str = include_str!("../assets/index.html");
/// The dashboard's script (an ES module), and the modules it imports: the chart, the panels, and
/// the periods.
pub const APP_JS: &str = include_str!("../assets/app.js");
pub const CHART_JS: &str = include_str!("../assets/chart.js");
pub const DOM_JS: &str = include_str!("../assets/dom.js");
pub const PANELS_JS: &str = include_str!("../assets/panels.js");
pub const PERIOD_JS: &str = include_str!("../assets/period.js");
pub const STYLE_CSS: &str = include_str!("../assets/style.css");

const JS: &str = "text/javascript; charset=utf-8";

/// The files served under `/assets/`: name, content type, contents.
pub const FILES: &[(&str, &str, &str)] = &[
    ("app.js", JS, APP_JS),
    ("chart.js", JS, CHART_JS),
    ("dom.js", JS, DOM_JS),
    ("panels.js", JS, PANELS_JS),
    ("period.js", JS, PERIOD_JS),
    ("settings.js", JS, SETTINGS_JS),
    ("style.css", "text/css; charset=utf-8", STYLE_CSS),
];

/// A page with its placeholders filled: each value escaped for HTML text and attributes.
pub fn fill(page: &str, values: &[(&str, &str)]) -> String {
    let mut out = page.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("<!--{name}-->"), &crate::xml::text(value));
    }
    out
}
