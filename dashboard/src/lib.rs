//! # footfall-dashboard
//!
//! Presentation: SVG badges, SVG charts drawn with plotters and RSS feeds for the public
//! counters, and the owner's dashboard (HTML, CSS and ES modules in `assets/`, embedded in the
//! binary, with no build step). It renders what `footfall-queries` returns and never touches the
//! store itself.
//!
//! ## Why the dashboard draws its own chart
//! The dashboard's chart is `assets/chart.js`: about 60 lines that make one SVG line (and the
//! compared period's dashed line) with DOM calls. It is neither a server-rendered SVG nor a
//! vendored charting library, because:
//! - the chart changes with every filter, period, granularity and comparison, and its points
//!   carry titles for hover and screen readers; a server-rendered image would be one more
//!   request per view and would lose both;
//! - the libraries that draw such a chart weigh 40–200 KB and bring their own update cycle, for
//!   one line and two axes, and most inject inline styles, which the page's
//!   `Content-Security-Policy` (`default-src 'self'`, no inline style or script) refuses;
//! - it reads the Stats API's answer as the panels do, so the same numbers feed both, and every
//!   label reaches the page as `textContent`.
//!
//! The public charts (`/api/chart.svg`) are the opposite case: an image another site embeds,
//! which must look the same everywhere without script, so they are drawn here with plotters.
//!
//! ## Layout
//! - [`assets`]: the files pages load: the dashboard's pages, scripts and style, and
//!   `counter.js` for the public counts.
//! - [`xml`]: escaping for everything attackers can put into SVG and RSS (paths, labels).
//! - [`number`]: counts as people read them (`1.2k`, `1,234`).
//! - [`badge`]: "views | 1.2k" badges.
//! - [`chart`]: daily counts as SVG line, bar and sparkline charts (plotters, embedded font).
//! - [`feed`]: the RSS feed of the most read pages.

pub mod assets;
pub mod badge;
pub mod chart;
pub mod feed;
pub mod number;
pub mod xml;
