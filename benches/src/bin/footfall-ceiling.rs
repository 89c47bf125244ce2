//! The ceiling the load harness compares Footfall with: a bare axum server that reads each
//! `POST /api/event` body and answers `204`, and answers any `GET` with a short `200`. Same
//! runtime (tokio's multi-threaded default), same axum, same release profile, so the gap between
//! it and Footfall is Footfall's own work. Prints the same "listening on" line as Footfall and
//! stops on SIGTERM.

use axum::body::Bytes;
use axum::http::{header, StatusCode};
use axum::routing::{get, post};
use axum::Router;

/// The allocator Footfall's binary uses, so the comparison is of the work done, not the allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let app = Router::new()
        .route(
            "/api/event",
            post(|body: Bytes| async move {
                std::hint::black_box(body);
                StatusCode::NO_CONTENT
            }),
        )
        .fallback(get(|| async {
            (
                [(header::CONTENT_TYPE, "application/json")],
                "{\"count\":0}",
            )
        }));
    eprintln!("ceiling listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            if let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                term.recv().await;
            }
        })
        .await
}
