//! `POST /api/event`: Plausible's Events API.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use footfall_collector::Hit;
use footfall_queries::EnqueueError;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::request_context;
use crate::app::App;
use crate::assets::readable_by_any_origin;
use crate::error::AppError;
use crate::rate_limit::Bucket;

/// Parses the body (JSON whatever the content type), queues the hit, and answers `202 {}`.
/// Every answer, errors too, may be read by any origin.
///
/// Takes the whole request rather than a `HeaderMap`, which axum would copy (a few allocations
/// per hit on the busiest route): the headers are read in place before the body is.
pub async fn post_event(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let mut response = match accept(&app, peer, request).await {
        // Plausible answers `202 {}`; a constant body costs no JSON value per request.
        Ok(()) => (
            StatusCode::ACCEPTED,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            "{}",
        )
            .into_response(),
        Err(e) => e.into_response(),
    };
    readable_by_any_origin(response.headers_mut());
    response
}

/// A CORS preflight, from any origin: the tracker sends `text/plain`, which needs none, but
/// other clients send `application/json`. Browsers may keep the answer for a day.
pub async fn preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS"),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, "content-type"),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
        ],
    )
        .into_response()
}

async fn accept(app: &App, peer: SocketAddr, request: Request) -> Result<(), AppError> {
    let context = request_context(app, peer, request.headers());
    // Before the body is read: a flood costs as little as possible.
    app.client_limits.check(Bucket::Events, context.client_ip)?;
    let body = read_body(request.into_body(), app.settings.max_body_bytes).await?;
    let hit = app
        .collector
        .parse_event(&body, context)
        .map_err(|r| AppError::BadRequest(r.to_string()))?;
    enqueue(app, hit)
}

/// The whole body, or 413 past `limit` bytes.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, AppError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(AppError::PayloadTooLarge(limit)),
        Err(_) => Err(AppError::BadRequest(
            "could not read the request body".into(),
        )),
    }
}

/// Queues a hit, or says why not. Never a 2xx for a hit that was not queued.
pub(super) fn enqueue(app: &App, hit: Hit) -> Result<(), AppError> {
    app.writer
        .try_enqueue(hit)
        .map_err(|e| AppError::Unavailable {
            reason: e.to_string(),
            retry_after_secs: match e {
                EnqueueError::Full => 1,
                EnqueueError::Closed | EnqueueError::StoreFailing => 5,
            },
        })
}
