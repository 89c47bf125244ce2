//! The one error type handlers return. 4xx carry a short reason for the client; 5xx are logged
//! in full and answered with nothing internal. Also the answers to requests no handler takes
//! ([`no_route`], [`wrong_method`]), which axum would otherwise give with an empty body.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// No key, or a key that may not read what was asked.
    #[error("{0}")]
    Unauthorized(String),
    /// Refused whoever asks (a cross-site request that would change something).
    #[error("{0}")]
    Forbidden(String),
    /// The path exists, but not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The key used up its requests for now.
    #[error("{reason}")]
    RateLimited {
        reason: String,
        retry_after_secs: u64,
    },
    #[error("body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// Temporarily unable to take the request (full queue, shutting down, store down); the
    /// client should retry after the given number of seconds.
    #[error("{reason}")]
    Unavailable {
        reason: String,
        retry_after_secs: u32,
    },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, reason) = match &self {
            AppError::BadRequest(reason) => (StatusCode::BAD_REQUEST, reason.clone()),
            AppError::NotFound(reason) => (StatusCode::NOT_FOUND, reason.clone()),
            AppError::Unauthorized(reason) => (StatusCode::UNAUTHORIZED, reason.clone()),
            AppError::Forbidden(reason) => (StatusCode::FORBIDDEN, reason.clone()),
            AppError::MethodNotAllowed(reason) => (StatusCode::METHOD_NOT_ALLOWED, reason.clone()),
            AppError::RateLimited { reason, .. } => (StatusCode::TOO_MANY_REQUESTS, reason.clone()),
            AppError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, self.to_string()),
            AppError::Unavailable { reason, .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, reason.clone())
            }
            AppError::Internal(e) => {
                tracing::error!("internal error: {e:#}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_owned(),
                )
            }
        };
        let mut response = (status, Json(json!({ "error": reason }))).into_response();
        let retry_after = match self {
            AppError::Unavailable {
                retry_after_secs, ..
            } => Some(u64::from(retry_after_secs)),
            AppError::RateLimited {
                retry_after_secs, ..
            } => Some(retry_after_secs),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The router's fallback: axum's own 404 has an empty body, and every refusal should say why.
/// The path is not repeated back: it is the client's own, and may be anything.
pub async fn no_route() -> AppError {
    AppError::NotFound("nothing here: no page or API endpoint has this path".into())
}

/// The router's fallback for a method a path does not take, for the same reason. axum still
/// adds the `Allow` header, which lists the methods the path does take.
pub async fn wrong_method() -> AppError {
    AppError::MethodNotAllowed(
        "this path does not take this method: the Allow header lists those it does".into(),
    )
}

#[cfg(test)]
mod tests {
    use axum::body::{to_bytes, Body};
    use axum::http::Request;
    use axum::routing::get;
    use axum::Router;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;

    /// A router with the fallbacks, as `routes::router` sets them.
    fn router() -> Router {
        Router::new()
            .route("/here", get(|| async { "here" }))
            .fallback(no_route)
            .method_not_allowed_fallback(wrong_method)
    }

    async fn send(method: &str, path: &str) -> (StatusCode, Option<String>, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let response = router().oneshot(request).await.unwrap();
        let status = response.status();
        let allow = response
            .headers()
            .get(header::ALLOW)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let json: Value = serde_json::from_slice(&body).unwrap();
        (status, allow, json["error"].as_str().unwrap().to_owned())
    }

    #[tokio::test]
    async fn unknown_paths_and_wrong_methods_say_why() {
        let (status, _, reason) = send("GET", "/nowhere/%2e%2e/etc/passwd").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(reason.contains("no page or API endpoint"), "{reason}");
        assert!(
            !reason.contains("passwd"),
            "the path is not echoed: {reason}"
        );

        for method in ["POST", "DELETE", "PROPFIND", "get"] {
            let (status, allow, reason) = send(method, "/here").await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
            assert_eq!(allow.as_deref(), Some("GET,HEAD"), "{method}");
            assert!(reason.contains("Allow header"), "{reason}");
        }
    }
}
