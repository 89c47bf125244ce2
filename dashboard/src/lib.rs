//! # footfall-dashboard
//!
//! Presentation: the owner's dashboard (embedded HTML, CSS and JavaScript), SVG charts drawn with
//! plotters, and SVG badges for public counters. It renders what `footfall-queries` returns and
//! never touches the store itself.
//!
//! Empty for now: the ingestion path comes first; the dashboard, counters and charts are built on
//! the read side in later issues.
