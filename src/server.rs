//! Serving: bind, run until told to stop, then stop gracefully.
//!
//! Stopping, in order: stop accepting; give in-flight requests up to five seconds; let a rollup
//! step and a checkpoint in progress finish; close the write queue (later hits get 503); write
//! and commit everything queued; checkpoint. The whole stop takes under ten seconds, and no hit
//! that got a 202 is lost unless the store itself fails.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use footfall_queries::WriterReport;
use tokio::net::TcpListener;
use tower::util::MapResponse;

use crate::admin;
use crate::app::App;
use crate::routes::{router, TimeLimit};

/// How long in-flight requests get after the stop signal.
const DRAIN_REQUESTS: Duration = Duration::from_secs(5);
/// How long the writer gets after that to commit what is queued.
const DRAIN_WRITER: Duration = Duration::from_secs(4);

/// Serves `app` on `listener` until `shutdown` completes, then stops as described above.
pub async fn run(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<WriterReport> {
    let socket_path = admin::socket_path(&app.settings);
    let admin_task = match admin::bind(&socket_path) {
        Ok(socket) => Some(tokio::spawn(admin::serve(socket, app.clone()))),
        Err(e) => {
            tracing::warn!(
                "owner commands will need the server stopped: cannot listen on {}: {e:#}",
                socket_path.display()
            );
            None
        }
    };

    if let Some(token) = app.setup_token.lock().as_deref() {
        let base = if app.settings.public_url.is_empty() {
            format!("http://{}", listener.local_addr()?)
        } else {
            app.settings.public_url.clone()
        };
        tracing::warn!(
            "no owner yet: open {base}/setup?token={token} to choose the first owner's password \
             (the link works once, until the server stops), or run `footfall user add NAME`"
        );
    }
    // Logged once everything is ready (the command socket included): tests and scripts wait
    // for this line.
    tracing::info!(
        "footfall listening on http://{} (database {})",
        listener.local_addr()?,
        app.settings.database.display()
    );

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let stopping = app.clone();
    tokio::spawn(async move {
        shutdown.await;
        // The rollup step in progress (a few seconds at most) ends while requests drain.
        stopping.rollups.request_stop();
        let _ = stop_tx.send(true);
    });
    let mut stop_for_serve = stop_rx.clone();
    let serve = axum::serve(
        listener,
        MapResponse::new(
            router(app.clone()).into_make_service_with_connect_info::<SocketAddr>(),
            TimeLimit::new,
        ),
    )
    .with_graceful_shutdown(async move {
        let _ = stop_for_serve.wait_for(|stopped| *stopped).await;
    });
    let serve_result = tokio::select! {
        result = serve => result.map_err(anyhow::Error::from),
        _ = async {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(DRAIN_REQUESTS).await;
        } => {
            tracing::warn!("requests still open {DRAIN_REQUESTS:?} after the stop signal; closing them");
            Ok(())
        }
    };
    tracing::info!("stopped accepting requests; writing what is queued");
    // The rollup step in progress has finished (or does now), so the final checkpoint meets no
    // open transaction.
    let rollups_app = app.clone();
    tokio::task::spawn_blocking(move || rollups_app.rollups.stop()).await?;
    // Likewise a checkpoint in progress; the writer makes the last one.
    let checkpoint_app = app.clone();
    tokio::task::spawn_blocking(move || checkpoint_app.checkpointer.lock().stop()).await?;

    if let Some(task) = admin_task {
        task.abort();
    }
    let _ = std::fs::remove_file(&socket_path);
    let writer_app = app.clone();
    let report = tokio::task::spawn_blocking(move || {
        writer_app.writer.shutdown(Instant::now() + DRAIN_WRITER)
    })
    .await?;
    tracing::info!(
        "stopped: {} events written this run, {} lost",
        report.events_written,
        report.events_lost
    );
    serve_result?;
    Ok(report)
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received, stopping"),
        _ = term => tracing::info!("SIGTERM received, stopping"),
    }
}
