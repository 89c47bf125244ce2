//! Slow clients must not hold a connection (or a shutdown) forever: a request still unanswered
//! after [`REQUEST_TIME_LIMIT`] gets `408 Request Timeout`.
//!
//! Why not tower-http's `TimeoutLayer`: it arms its timer before it first asks for the answer,
//! so every request takes the runtime's timer lock, even those answered at once (counters,
//! badges, scripts). Under load that lock cost about 5 % of the server's CPU. Here the timer is
//! armed only when the answer is not ready at the first poll.

use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub const REQUEST_TIME_LIMIT: Duration = Duration::from_secs(10);

/// Middleware: the answer, or 408 once [`REQUEST_TIME_LIMIT`] has passed.
pub async fn time_limit(request: Request, next: Next) -> Response {
    // tokio's `timeout` polls the answer first and its timer only when that is pending.
    match tokio::time::timeout(REQUEST_TIME_LIMIT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            "the request took too long to arrive or to answer",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    fn app() -> Router {
        Router::new()
            .route("/quick", get(|| async { "done" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(REQUEST_TIME_LIMIT + Duration::from_secs(1)).await;
                    "too late"
                }),
            )
            .layer(axum::middleware::from_fn(time_limit))
    }

    async fn status(path: &str) -> StatusCode {
        let request = Request::get(path).body(Body::empty()).unwrap();
        app().oneshot(request).await.unwrap().status()
    }

    #[tokio::test(start_paused = true)]
    async fn answers_in_time_pass_and_late_ones_get_408() {
        assert_eq!(status("/quick").await, StatusCode::OK);
        assert_eq!(status("/slow").await, StatusCode::REQUEST_TIMEOUT);
    }
}
