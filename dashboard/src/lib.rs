//! # footfall-dashboard
//!
//! Presentation: SVG badges and RSS feeds for public counters now; SVG charts drawn with
//! plotters and the owner's dashboard (embedded HTML, CSS and JavaScript) next. It renders what
//! `footfall-queries` returns and never touches the store itself.
//!
//! ## Layout
//! - [`xml`]: escaping for everything attackers can put into SVG and RSS (paths, labels).
//! - [`number`]: counts as people read them (`1.2k`, `1,234`).
//! - [`badge`]: "views | 1.2k" badges.
//! - [`feed`]: the RSS feed of the most read pages.

pub mod badge;
pub mod feed;
pub mod number;
pub mod xml;
