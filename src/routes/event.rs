//! `POST /api/event`: Plausible's Events API.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use footfall_collector::Hit;
use footfall_queries::EnqueueError;

use super::request_context;
use crate::app::App;
use crate::error::AppError;

/// Parses the body (JSON whatever the content type), queues the hit, and answers `202 {}`.
///
/// Takes the whole request rather than a `HeaderMap`, which axum would copy (a few allocations
/// per hit on the busiest route): the headers are read in place before the body is.
pub async fn post_event(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Result<Response, AppError> {
    let context = request_context(&app, peer, request.headers());
    let body = Bytes::from_request(request, &app)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge(app.settings.max_body_bytes)
            } else {
                AppError::BadRequest("could not read the request body".into())
            }
        })?;
    let hit = app
        .collector
        .parse_event(&body, context)
        .map_err(|r| AppError::BadRequest(r.to_string()))?;
    enqueue(&app, hit)?;
    // Plausible answers `202 {}`; a constant body costs no JSON value per request.
    Ok((
        StatusCode::ACCEPTED,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        "{}",
    )
        .into_response())
}

/// Queues a hit, or says why not. Never a 2xx for a hit that was not queued.
pub(super) fn enqueue(app: &App, hit: Hit) -> Result<(), AppError> {
    app.writer
        .try_enqueue(hit)
        .map_err(|e| AppError::Unavailable {
            reason: e.to_string(),
            retry_after_secs: match e {
                EnqueueError::Full => 1,
                EnqueueError::Closed => 5,
            },
        })
}
