//! `GET /api/chart.svg`: a page's (or the site's) daily counts as a chart drawn on the server:
//! a line or bars with axes and a title, or `style=sparkline` for a bare trend inline in text.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Duration;
use footfall_dashboard::chart::{self, Chart, Kind, Theme};
use footfall_queries::counters::KEPT_DAYS;

use super::badge::{svg_response, Shown};
use super::check_reads;
use super::public::{choice, param, requested_path, Params, Scope};
use crate::app::App;
use crate::error::AppError;

fn size(
    params: &Params,
    key: &str,
    default: u32,
    range: RangeInclusive<u32>,
) -> Result<u32, AppError> {
    match param(params, key) {
        None => Ok(default),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "{key} {text:?} is not a number of pixels from {} to {}",
                    range.start(),
                    range.end()
                ))
            }),
    }
}

pub async fn get_chart(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, AppError> {
    check_reads(&app, peer, &headers)?;
    let scope = Scope::read(&app, &params, "30d")?;
    let shown = Shown::read(&params, Shown::Visitors)?;
    let kind = choice(&params, "style", Kind::Line, Kind::parse, Kind::NAMES)?;
    let theme = choice(&params, "theme", Theme::Light, Theme::parse, Theme::NAMES)?;
    let (width, height) = if kind == Kind::Sparkline {
        (120, 30)
    } else {
        (600, 240)
    };
    let width = size(&params, "width", width, chart::WIDTHS)?;
    let height = size(&params, "height", height, chart::HEIGHTS)?;
    let path = requested_path(param(&params, "path"));
    // Days are kept one by one for the last KEPT_DAYS; `all` draws those, from the first.
    let mut days = scope.days;
    let oldest = days.last - Duration::days(KEPT_DAYS - 1);
    if days.first < oldest {
        // Only a public site's first day: for any other, `all` draws one day, as for a site
        // with no events, so the chart says nothing of when a private site began.
        let first = scope
            .site
            .as_ref()
            .and_then(|_| app.counters.first_day(&scope.domain));
        days.first = first.unwrap_or(days.last).clamp(oldest, days.last);
    }
    let daily: Vec<_> = scope
        .daily(path.as_deref(), days)
        .into_iter()
        .map(|(day, count)| (day, shown.of(count)))
        .collect();
    let period = param(&params, "period").unwrap_or("30d");
    let title = format!(
        "{} of {}, {period}",
        shown.name(),
        path.as_deref().unwrap_or(&scope.domain)
    );
    let svg = chart::render(&Chart {
        title: &title,
        days: &daily,
        kind,
        theme,
        width,
        height,
    })
    .map_err(|e| AppError::BadRequest(e.to_string()))?;
    Ok(svg_response(&headers, svg, &app))
}
