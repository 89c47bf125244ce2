//! `GET /api/counter`: a page's (or the site's) pageviews and visitors as JSON numbers, for
//! "1,234 views" under a post. Several `path` parameters answer an array, in the same order.
//! `GET /counter.js` is the script that asks for them and fills a page's elements.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use super::check_reads;
use super::public::{requested_path, respond, Params, Scope};
use crate::app::App;
use crate::assets::{readable_by_any_origin, Asset};
use crate::error::AppError;

/// Paths one request may ask for: an index page of posts, not a crawl.
pub const MAX_PATHS: usize = 100;

pub async fn get_counter(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, AppError> {
    check_reads(&app, peer, &headers)?;
    let scope = Scope::read(&app, &params, "all")?;
    let asked: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "path")
        .map(|(_, v)| v.as_str())
        .collect();
    if asked.len() > MAX_PATHS {
        return Err(AppError::BadRequest(format!(
            "at most {MAX_PATHS} path parameters per request, not {}",
            asked.len()
        )));
    }
    let one = |raw: Option<&str>| -> Value {
        let path = requested_path(raw);
        let count = scope.count(path.as_deref());
        json!({
            "path": path.as_deref().unwrap_or("TOTAL"),
            "pageviews": count.pageviews,
            "visitors": count.visitors,
        })
    };
    let body = if asked.len() <= 1 {
        one(asked.first().copied())
    } else {
        Value::Array(asked.iter().map(|p| one(Some(p))).collect())
    };
    Ok(respond(
        &headers,
        serde_json::to_vec(&body).expect("JSON values serialise"),
        "application/json",
        app.settings.public_max_age_seconds,
    ))
}

/// An hour fresh, then a day of revalidating in the background: a changed script reaches pages
/// within about an hour, and a page never waits on it.
const SCRIPT_CACHE: &str = "public, max-age=3600, stale-while-revalidate=86400";

static COUNTER_JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::hashed(
        footfall_dashboard::assets::COUNTER_JS.as_bytes(),
        "text/javascript; charset=utf-8",
        SCRIPT_CACHE,
    )
});

pub async fn get_counter_js(headers: HeaderMap) -> Response {
    let mut response = COUNTER_JS.respond(&headers);
    readable_by_any_origin(response.headers_mut());
    response
}
