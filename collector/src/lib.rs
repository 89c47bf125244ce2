//! # footfall-collector
//!
//! Turns a raw tracking request (a payload, the client's IP address and a few headers) into
//! validated, enriched [`Event`]s, or a typed reason why not. It knows nothing of HTTP servers or
//! of the store: the server hands it plain values, and the writer hands its output to DuckDB.
//!
//! Work is split in two so that the HTTP path stays short: [`Collector::parse_event`] validates a
//! payload into a [`Hit`] (cheap; a bad request gets its 400 from it), and [`Collector::enrich`]
//! turns a queued hit into events on the writer's thread (user agent, location, visitor id, visit).
//!
//! ## Layout
//! - [`payload`]: the Events API body and the pixel's query → [`Hit`], or a [`Rejection`].
//! - [`domain`]: [`SiteDomain`], a parsed site domain.
//! - [`page`]: page URL → host, normalised path, campaign tags.
//! - [`referrer`]: referrer URL → referrer and a source name; the referrer-spam list.
//! - [`channel`]: source and campaign tags → the visit's channel (GA4's grouping).
//! - [`user_agent`]: user agent → browser, OS, device class, or "bot"; cached.
//! - [`geo`]: IP address → country, region, city from a MaxMind-format `.mmdb` file.
//! - [`visitor`]: daily salts and the keyed visitor-id hash.
//! - [`session`]: visits, which end after 30 quiet minutes.
//! - [`sites`]: the registered sites and their owners' exclusion rules.
//! - [`drops`]: counts of events not recorded, by reason.
//! - [`clock`]: the injectable source of "now".
//! - [`tracker`]: the tracker script pages load (its source lives in `tracker/`).
//! - [`collector`]: [`Collector`], which ties the above together.

pub mod channel;
pub mod clock;
pub mod collector;
pub mod domain;
pub mod drops;
pub mod event;
pub mod geo;
#[cfg(any(test, feature = "test-support"))]
pub mod mmdb_writer;
pub mod page;
pub mod payload;
pub mod referrer;
pub mod session;
pub mod sites;
pub mod tracker;
pub mod user_agent;
pub mod visitor;

pub use collector::{Collector, CollectorSettings, Enriched};
pub use domain::SiteDomain;
pub use drops::{DropCount, DropReason, DropTally};
pub use event::Event;
pub use payload::{Hit, Rejection, RequestContext};
