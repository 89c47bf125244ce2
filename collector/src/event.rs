//! The enriched event: one row of the store.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::SiteDomain;
use crate::geo::Location;
use crate::page::Utm;
use crate::user_agent::Client;

/// Everything the store keeps of one event. No IP address, no user agent string, no query string:
/// only coarse fields that reports group by. Empty strings mean unknown, so reports never have to
/// tell `NULL` from `''`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub site: SiteDomain,
    /// When the server received it (UTC); clients' clocks are not trusted.
    pub ts: DateTime<Utc>,
    pub name: String,
    pub hostname: String,
    pub path: String,
    /// Today's keyed hash of (site, IP, user agent); see [`crate::visitor`].
    pub visitor_id: u64,
    pub session_id: u64,
    /// `false` for events that do not make a visit engaged (they don't end a bounce).
    pub interactive: bool,
    pub referrer: String,
    pub source: String,
    pub utm: Utm,
    /// Which ad platform's click id was present (`gclid`, …), not the id.
    pub click_id: &'static str,
    pub location: Location,
    pub client: Arc<Client>,
    pub props: Vec<(String, String)>,
    /// Engagement events only: milliseconds the page was visible and in use.
    pub engaged_ms: Option<u32>,
    /// Engagement events only: deepest scroll, %.
    pub scroll_depth: Option<u8>,
}
