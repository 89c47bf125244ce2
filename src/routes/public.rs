//! What the keyless public endpoints (counts, badges, charts, popular pages) share: reading the
//! site and period from the query string, deciding what may be shown, and answering with
//! headers that let any page embed the answer and caches keep it briefly.
//!
//! A site that is not opted in, an unknown site, a hidden path and a page nobody visited all
//! read as zero, so the answers say nothing about what exists. Unknown query parameters are
//! ignored: a cache-busting `?v=123` changes nothing.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use chrono_tz::Tz;
use footfall_collector::page::normalize_route;
use footfall_collector::sites::Site;
use footfall_collector::SiteDomain;
use footfall_queries::counters::{Count, Days};
use footfall_queries::stats::period::DateRange;

use crate::app::App;
use crate::assets::{etag_matches, open_to_any_origin};
use crate::error::AppError;

/// The query string as pairs, repeated keys kept (`path` may be given many times).
pub type Params = Vec<(String, String)>;

/// The first value of a parameter.
pub fn param<'p>(params: &'p Params, key: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// An optional parameter that names one of a few choices: `default` when absent, a 400 that
/// lists the choices when it names none of them.
pub fn choice<T>(
    params: &Params,
    key: &str,
    default: T,
    parse: impl Fn(&str) -> Option<T>,
    choices: &str,
) -> Result<T, AppError> {
    match param(params, key) {
        None => Ok(default),
        Some(text) => parse(text)
            .ok_or_else(|| AppError::BadRequest(format!("{key} {text:?} is not {choices}"))),
    }
}

/// The periods a public count may cover (the Stats API's shortcuts, less `realtime`).
const PERIODS: &str = "day, 7d, 28d, 30d, 91d, month, 6mo, 12mo, year or all";

/// A public request's site and period.
pub struct Scope {
    pub app: Arc<App>,
    pub domain: String,
    /// The site, when its owner opted in to public counts.
    pub site: Option<Arc<Site>>,
    pub days: Days,
}

impl Scope {
    /// `site` (required) and `period` (default `all`, or `default_period`).
    pub fn read(app: &Arc<App>, params: &Params, default_period: &str) -> Result<Scope, AppError> {
        let site = param(params, "site")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                AppError::BadRequest("site is required, as in ?site=example.com".into())
            })?;
        let domain =
            SiteDomain::parse(site).map_err(|e| AppError::BadRequest(format!("site: {e}")))?;
        let period = param(params, "period").unwrap_or(default_period);
        let range = DateRange::parse_shortcut(period)
            .filter(|r| *r != DateRange::Realtime)
            .ok_or_else(|| {
                AppError::BadRequest(format!("period {period:?} is not one of {PERIODS}"))
            })?;
        let site = app
            .collector
            .sites()
            .get(&domain)
            .filter(|s| s.settings.public.enabled);
        let tz = site
            .as_ref()
            .and_then(|s| s.settings.timezone.parse().ok())
            .unwrap_or(Tz::UTC);
        let days = Days::of(&range, tz, app.collector.now()).expect("a period of days");
        Ok(Scope {
            app: app.clone(),
            domain: domain.to_string(),
            site,
            days,
        })
    }

    /// Whether a page's counts (`None`: the whole site, hidden pages included) may be shown.
    fn shows(&self, path: Option<&str>) -> bool {
        match (&self.site, path) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(site), Some(path)) => site.shows_counts_of(path),
        }
    }

    /// A page's counts (`None`: the whole site), or zero when they may not be shown. The path
    /// is normalised as the collector records paths.
    pub fn count(&self, path: Option<&str>) -> Count {
        if !self.shows(path) {
            return Count::default();
        }
        self.app.counters.count(&self.domain, path, self.days)
    }

    /// Each day's counts of a page (or the whole site), zero when they may not be shown.
    pub fn daily(&self, path: Option<&str>, days: Days) -> Vec<(NaiveDate, Count)> {
        if self.shows(path) {
            self.app.counters.daily(&self.domain, path, days)
        } else {
            days.first
                .iter_days()
                .take_while(|d| *d <= days.last)
                .map(|d| (d, Count::default()))
                .collect()
        }
    }
}

/// A requested path as recorded: `TOTAL` (or nothing) is the whole site. A `#fragment` is
/// kept, for hash-routed sites, whose pages are recorded with theirs (`/#/inbox`).
pub fn requested_path(raw: Option<&str>) -> Option<String> {
    match raw.map(str::trim) {
        None | Some("") | Some("TOTAL") => None,
        Some(path) => Some(normalize_route(path)),
    }
}

/// An answer any page may embed (CORS open, cross-origin resource), cached for `max_age`
/// seconds, with an entity tag from its bytes: `304` when the client has these bytes already.
pub fn respond(
    request: &HeaderMap,
    body: Vec<u8>,
    content_type: &'static str,
    max_age: u32,
) -> Response {
    let etag = format!("\"{}\"", &blake3::hash(&body).to_hex()[..20]);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is a valid header"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={max_age}")).expect("a valid header"),
    );
    open_to_any_origin(&mut headers);
    if etag_matches(request, &etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    (headers, Body::from(body)).into_response()
}
