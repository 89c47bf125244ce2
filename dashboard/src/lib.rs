//! # footfall-dashboard
//!
//! Presentation: SVG badges, SVG charts drawn with plotters and RSS feeds for the public
//! counters; the owner's dashboard (embedded HTML, CSS and JavaScript) next. It renders what
//! `footfall-queries` returns and never touches the store itself.
//!
//! ## Layout
//! - [`assets`]: files pages load (`counter.js`).
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
