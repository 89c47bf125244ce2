//! `GET /healthz`: a real query against the store, and the writer's state.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::app::App;

pub async fn healthz(State(app): State<Arc<App>>) -> impl IntoResponse {
    let store_app = app.clone();
    let store = match tokio::task::spawn_blocking(move || store_app.store.check()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("health check task failed: {e}")),
    };
    let writer = app.writer.status();
    let mut problems = Vec::new();
    if let Err(e) = &store {
        problems.push(format!("store: {e}"));
    }
    if !writer.running {
        problems.push("writer: stopped".to_owned());
    }
    if let Some(e) = &writer.last_error {
        problems.push(format!("writer: {e}"));
    }
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    if !problems.is_empty() {
        tracing::warn!("unhealthy: {}", problems.join("; "));
    }
    let body = json!({
        "status": if problems.is_empty() { "ok" } else { "unhealthy" },
        "problems": problems,
        "writer": {
            "running": writer.running,
            "queued": writer.queued,
            "events_written": writer.events_written,
        },
        "sites": app.collector.sites().len(),
        "live_sessions": app.collector.live_sessions(),
    });
    (status, Json(body))
}
