//! Slow clients must not hold a connection (or a shutdown) forever: a request still unanswered
//! after [`REQUEST_TIME_LIMIT`] gets `408 Request Timeout`.
//!
//! A tower service wrapped around the whole router once per connection, rather than a layer on
//! it: axum boxes a layered route again for each layer and clones that box for every request,
//! and `middleware::from_fn` boxes the rest of the stack and the middleware's future too. On
//! `POST /api/event` under load that was about 5 % of the server's CPU; this wrapper allocates
//! nothing. (tower-http's `TimeoutLayer` also arms its timer before the first poll, taking the
//! runtime's timer lock for requests answered at once; tokio's `timeout` polls the answer first.)

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower::Service;

pub const REQUEST_TIME_LIMIT: Duration = Duration::from_secs(10);

/// `inner`, answering 408 once [`REQUEST_TIME_LIMIT`] has passed.
#[derive(Debug, Clone)]
pub struct TimeLimit<S> {
    inner: S,
}

impl<S> TimeLimit<S> {
    pub fn new(inner: S) -> Self {
        TimeLimit { inner }
    }
}

impl<S, B> Service<Request<B>> for TimeLimit<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = TimeLimitFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        TimeLimitFuture {
            inner: tokio::time::timeout(REQUEST_TIME_LIMIT, self.inner.call(request)),
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer, or a 408.
    pub struct TimeLimitFuture<F> {
        #[pin]
        inner: tokio::time::Timeout<F>,
    }
}

impl<F> Future for TimeLimitFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx).map(|answer| match answer {
            Ok(response) => response,
            Err(_) => Ok((
                StatusCode::REQUEST_TIMEOUT,
                "the request took too long to arrive or to answer",
            )
                .into_response()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    fn app() -> TimeLimit<Router> {
        TimeLimit::new(
            Router::new()
                .route("/quick", get(|| async { "done" }))
                .route(
                    "/slow",
                    get(|| async {
                        tokio::time::sleep(REQUEST_TIME_LIMIT + Duration::from_secs(1)).await;
                        "too late"
                    }),
                ),
        )
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
