//! The HTTP routes. Handlers are thin: extract, call the collector or the store, answer.

mod badge;
mod chart;
mod counter;
mod event;
mod health;
mod owner;
mod pixel;
mod popular;
mod public;
mod script;
mod settings;
mod share;
mod stats;
mod time_limit;

pub use time_limit::TimeLimit;
mod view;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
use footfall_collector::RequestContext;

use crate::app::App;
use crate::error::AppError;
use crate::rate_limit::Bucket;

/// The whole HTTP surface, as a value tests can call directly. The server wraps it in
/// [`TimeLimit`] (see there why not a layer here).
pub fn router(app: Arc<App>) -> Router {
    // `/api/event` takes no layer: any page may send events (the tracker runs on the owner's
    // sites, which are other origins), so its handlers answer CORS themselves, and its handler
    // reads the body with its own limit. On the busiest route each axum layer cost a boxed
    // clone of the route per request, and tower-http's CORS layer worked out the same headers
    // again for every request (benches/README.md).
    let ingest = Router::new().route(
        "/api/event",
        post(event::post_event).options(event::preflight),
    );
    // The owner's pages: requests that change something must come from this server's pages, a
    // shared link's token reaches only the shared view, and a Stats API key none of them.
    let owner_routes = Router::new()
        .route("/", get(owner::get_home))
        .route("/login", get(owner::get_login).post(owner::post_login))
        .route("/logout", post(owner::post_logout))
        .route("/setup", get(owner::get_setup).post(owner::post_setup))
        .route("/api/dashboard/me", get(owner::get_me))
        .route("/api/dashboard/query", post(view::post_query))
        .route("/api/dashboard/prop_keys", post(view::post_prop_keys))
        .route("/api/dashboard/dropped", post(view::post_dropped))
        .route("/api/dashboard/export.csv", get(view::get_export))
        .route("/settings", get(settings::get_page))
        .route(
            "/api/dashboard/settings",
            get(settings::get_settings).post(settings::post_settings),
        )
        // A shared link's read-only view: the same page and reads, for its one site.
        .route(
            "/share/{token}",
            get(share::get_share).post(share::post_share),
        )
        .route("/api/share/me", get(view::get_link))
        .route("/api/share/query", post(view::post_query))
        .route("/api/share/prop_keys", post(view::post_prop_keys))
        .route("/api/share/export.csv", get(view::get_export))
        .route("/assets/{file}", get(owner::get_asset))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            owner::same_origin,
        ))
        .layer(axum::middleware::from_fn(share::read_only_links))
        .layer(axum::middleware::from_fn(crate::api_keys::stats_api_only));
    Router::new()
        .merge(ingest)
        .route("/script.js", get(script::get_script))
        .route("/script.hash.js", get(script::get_script))
        .route("/js/{file}", get(script::get_plausible_script))
        .route("/api/event.gif", get(pixel::get_pixel))
        .route("/api/v2/query", post(stats::post_query))
        // Plausible's path, and the shorter one some clients and docs use.
        .route(
            "/api/v1/stats/realtime/visitors",
            get(stats::get_realtime_visitors),
        )
        .route(
            "/api/v1/realtime/visitors",
            get(stats::get_realtime_visitors),
        )
        .route("/counter.js", get(counter::get_counter_js))
        .route("/api/counter", get(counter::get_counter))
        .route("/api/counter.svg", get(badge::get_badge))
        .route("/api/chart.svg", get(chart::get_chart))
        .route("/api/popular", get(popular::get_popular))
        .route("/api/popular.rss", get(popular::get_popular_rss))
        .route("/healthz", get(health::healthz))
        .merge(owner_routes)
        // Last, so that they cover every route above: axum's own 404 and 405 have no body, and
        // every refusal says why (drill 1).
        .fallback(crate::error::no_route)
        .method_not_allowed_fallback(crate::error::wrong_method)
        .with_state(app)
}

/// Takes a request from the client's reads bucket (public counts, badges, charts, popular
/// pages, the Stats API): `Err` is the 429 to answer.
fn check_reads(app: &App, peer: SocketAddr, headers: &HeaderMap) -> Result<(), AppError> {
    if !app.client_limits.limits(Bucket::Reads) {
        return Ok(());
    }
    let client = app.settings.client_ip.client_ip(peer.ip(), headers);
    app.client_limits.check(Bucket::Reads, client)
}

/// What the collector needs to know of the request besides its payload.
fn request_context(app: &App, peer: SocketAddr, headers: &HeaderMap) -> RequestContext {
    let text = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let has = |name: &str, needle: &str| {
        text(name).is_some_and(|v| v.to_ascii_lowercase().contains(needle))
    };
    RequestContext {
        received_at: app.collector.now(),
        client_ip: app.settings.client_ip.client_ip(peer.ip(), headers),
        user_agent: text("user-agent").unwrap_or_default(),
        prefetch: has("sec-purpose", "prefetch")
            || has("purpose", "prefetch")
            || has("x-purpose", "preview")
            || has("x-moz", "prefetch"),
        do_not_track: text("dnt").is_some_and(|v| v.trim() == "1")
            || text("sec-gpc").is_some_and(|v| v.trim() == "1"),
    }
}
