//! `GET /api/popular` and `GET /api/popular.rss`: a site's most viewed pages, for "most read"
//! lists. Pages with fewer visitors than the site's threshold are left out, so a page only one
//! person reads cannot be watched to follow them; hidden paths never appear.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use footfall_dashboard::feed;
use footfall_queries::counters::Count;
use serde_json::json;

use super::check_reads;
use super::public::{param, respond, Params, Scope};
use crate::app::App;
use crate::error::AppError;

/// Pages one list may hold.
const MAX_LIMIT: usize = 100;

fn pages(app: &Arc<App>, params: &Params) -> Result<(Scope, Vec<(String, Count)>), AppError> {
    let scope = Scope::read(app, params, "30d")?;
    let limit = match param(params, "limit") {
        None => 10,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "limit {text:?} is not a number from 1 to {MAX_LIMIT}"
                ))
            })?,
    };
    let pages = match &scope.site {
        Some(site) => app.counters.popular(
            &scope.domain,
            scope.days,
            u64::from(site.settings.public.min_visitors),
            limit,
            |path| site.shows_counts_of(path),
        ),
        None => Vec::new(),
    };
    Ok((scope, pages))
}

pub async fn get_popular(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, AppError> {
    check_reads(&app, peer, &headers)?;
    let (_, pages) = pages(&app, &params)?;
    let body: Vec<_> = pages
        .iter()
        .map(|(path, c)| json!({"path": path, "pageviews": c.pageviews, "visitors": c.visitors}))
        .collect();
    Ok(respond(
        &headers,
        serde_json::to_vec(&body).expect("JSON values serialise"),
        "application/json",
        app.settings.public_max_age_seconds,
    ))
}

pub async fn get_popular_rss(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, AppError> {
    check_reads(&app, peer, &headers)?;
    let (scope, pages) = pages(&app, &params)?;
    let items: Vec<feed::Item> = pages
        .iter()
        .map(|(path, c)| feed::Item {
            path,
            pageviews: c.pageviews,
            visitors: c.visitors,
        })
        .collect();
    let period = param(&params, "period").unwrap_or("30d");
    Ok(respond(
        &headers,
        feed::popular(&scope.domain, period, &items).into_bytes(),
        "application/rss+xml; charset=utf-8",
        app.settings.public_max_age_seconds,
    ))
}
