//! The Stats API: `POST /api/v2/query` (Plausible's v2) and `GET /api/v1/stats/realtime/visitors`
//! (Plausible's legacy realtime number), for bearer keys made with `footfall key create`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query as UrlQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use chrono_tz::Tz;
use footfall_collector::SiteDomain;
use footfall_queries::stats::run::Events;
use footfall_queries::stats::{api, QueryError};
use footfall_queries::{goals, keys, StoreError};
use serde_json::Value;

use super::check_reads;
use crate::api_keys;
use crate::app::App;
use crate::error::AppError;

const MISSING_KEY: &str = "Missing API key. Please use a valid Footfall API key as a Bearer Token.";
const INVALID_KEY: &str = "Invalid API key or site ID. Please make sure you're using a valid API key with access to the site you've requested.";
const MISSING_SITE: &str =
    "Missing site ID. Please provide the required site_id parameter with your request.";

pub async fn post_query(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    // Before the key is looked up in the store: guessing keys costs a query each.
    check_reads(&app, peer, &headers)?;
    let json: Value = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("the body is not JSON: {e}")))?;
    let site_id = json
        .get("site_id")
        .and_then(Value::as_str)
        .ok_or_else(|| AppError::BadRequest(MISSING_SITE.into()))?
        .to_owned();
    let timezone = authorize(&app, &headers, &site_id).await?;
    Ok(Json(answer(&app, json, &site_id, timezone).await?).into_response())
}

/// Answers a Stats API request for a site the caller may read, in its time zone.
pub(super) async fn answer(
    app: &Arc<App>,
    json: Value,
    site_id: &str,
    timezone: Tz,
) -> Result<Value, AppError> {
    let mut site_goals = SiteDomain::parse(site_id)
        .ok()
        .and_then(|d| app.settings.goals.get(d.as_str()).cloned())
        .unwrap_or_default();
    reading(app, move |conn, events| {
        let request = api::parse(&json)?;
        let first_event = events.first_event(&request.site_id)?;
        // The config file's goals, then those added from the command line.
        for goal in goals::list(conn, &request.site_id)? {
            if !site_goals.contains(&goal) {
                site_goals.push(goal);
            }
        }
        request
            .plan(timezone, Utc::now(), first_event, &site_goals)?
            .answer(conn, &events)
    })
    .await
}

pub async fn get_realtime_visitors(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    UrlQuery(params): UrlQuery<HashMap<String, String>>,
) -> Result<Response, AppError> {
    check_reads(&app, peer, &headers)?;
    let site_id = params
        .get("site_id")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AppError::BadRequest(MISSING_SITE.into()))?
        .clone();
    authorize(&app, &headers, &site_id).await?;
    let visitors = reading(&app, move |_, events| {
        events.realtime_visitors(&site_id, Utc::now())
    })
    .await?;
    Ok(Json(visitors).into_response())
}

/// Checks the bearer key, its access to the site and its rate; returns the site's time zone.
async fn authorize(app: &Arc<App>, headers: &HeaderMap, site_id: &str) -> Result<Tz, AppError> {
    let key = api_keys::bearer(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
    .ok_or_else(|| AppError::Unauthorized(MISSING_KEY.into()))?;
    let key_hash = api_keys::hash(key);
    let stored = blocking(app, move |conn| Ok(keys::find(conn, &key_hash)?))
        .await?
        .ok_or_else(|| AppError::Unauthorized(INVALID_KEY.into()))?;
    let domain =
        SiteDomain::parse(site_id).map_err(|_| AppError::Unauthorized(INVALID_KEY.into()))?;
    if !stored.sites.iter().any(|s| s == domain.as_str()) {
        return Err(AppError::Unauthorized(INVALID_KEY.into()));
    }
    let site = app
        .collector
        .sites()
        .get(&domain)
        .ok_or_else(|| AppError::Unauthorized(INVALID_KEY.into()))?;
    app.api_limiter
        .check(&stored.id)
        .map_err(|wait| AppError::RateLimited {
            reason: format!(
                "Too many API requests. Your API key is limited to {} requests per hour.",
                app.api_limiter.per_hour
            ),
            retry_after_secs: wait.as_secs().max(1),
        })?;
    // Validated when the site was added or the config loaded.
    Ok(site.settings.timezone.parse().unwrap_or(Tz::UTC))
}

/// Runs store work off the async runtime, on a connection of its own.
pub(super) async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    work: impl FnOnce(&footfall_queries::Connection) -> Result<T, QueryError> + Send + 'static,
) -> Result<T, AppError> {
    reading(app, move |conn, _| work(conn)).await
}

/// [`blocking`], with the events' reads (the store's own, or ClickHouse's) beside the
/// connection to the store.
pub(super) async fn reading<T: Send + 'static>(
    app: &Arc<App>,
    work: impl FnOnce(&footfall_queries::Connection, Events<'_>) -> Result<T, QueryError>
        + Send
        + 'static,
) -> Result<T, AppError> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let conn = app.store.connection().map_err(QueryError::Store)?;
        work(&conn, app.events.reader(&conn))
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("query task failed: {e}")))?
    .map_err(|e| match e {
        QueryError::Invalid(message) => AppError::BadRequest(message),
        // A ClickHouse shard that does not answer is an outage that passes (a restart): the
        // client may ask again, as it may when the collector's queue is full.
        QueryError::Store(StoreError::ClickHouse(e)) if e.is_outage() => {
            tracing::warn!("a read failed: {e}");
            AppError::Unavailable {
                reason: "the event store does not answer; try again shortly".into(),
                retry_after_secs: 5,
            }
        }
        QueryError::Store(e) => AppError::Internal(e.into()),
    })
}
