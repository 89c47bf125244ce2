//! The one error type handlers return. 4xx carry a short reason for the client; 5xx are logged
//! in full and answered with nothing internal.

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
