//! `GET /api/counter.svg`: a page's count as a badge ("views | 1.2k") for an `<img>`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use footfall_dashboard::badge::{self, Badge, Color, Style};
use footfall_dashboard::number;

use super::check_reads;
use super::public::{choice, param, requested_path, respond, Params, Scope};
use crate::app::App;
use crate::error::AppError;

/// Nothing may run or load from a badge, even opened on its own.
pub const SVG_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'";

/// Which number a badge or chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Pageviews,
    Visitors,
}

impl Shown {
    /// `metric`, or `default` when absent.
    pub fn read(params: &Params, default: Shown) -> Result<Shown, AppError> {
        let parse = |name: &str| match name {
            "pageviews" => Some(Shown::Pageviews),
            "visitors" => Some(Shown::Visitors),
            _ => None,
        };
        choice(params, "metric", default, parse, "pageviews or visitors")
    }

    pub fn name(self) -> &'static str {
        match self {
            Shown::Pageviews => "Pageviews",
            Shown::Visitors => "Visitors",
        }
    }

    pub fn of(self, count: footfall_queries::counters::Count) -> u64 {
        match self {
            Shown::Pageviews => count.pageviews,
            Shown::Visitors => count.visitors,
        }
    }
}

pub async fn get_badge(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, AppError> {
    check_reads(&app, peer, &headers)?;
    let scope = Scope::read(&app, &params, "all")?;
    let shown = Shown::read(&params, Shown::Pageviews)?;
    let style = choice(&params, "style", Style::Flat, Style::parse, Style::NAMES)?;
    let color = choice(
        &params,
        "color",
        Color::default(),
        Color::parse,
        Color::NAMES,
    )?;
    let label = param(&params, "label").unwrap_or(match shown {
        Shown::Pageviews => "views",
        Shown::Visitors => "visitors",
    });
    let path = requested_path(param(&params, "path"));
    let value = number::compact(shown.of(scope.count(path.as_deref())));
    let svg = badge::render(&Badge {
        label,
        value: &value,
        color,
        style,
    });
    Ok(svg_response(&headers, svg, &app))
}

/// An SVG answer: the public headers, plus a policy that forbids scripts and loads.
pub fn svg_response(request: &HeaderMap, svg: String, app: &App) -> Response {
    let mut response = respond(
        request,
        svg.into_bytes(),
        "image/svg+xml",
        app.settings.public_max_age_seconds,
    );
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SVG_POLICY),
    );
    response
}
