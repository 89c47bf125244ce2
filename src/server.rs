//! Serving: bind, run until told to stop, then stop gracefully.
//!
//! Stopping, in order: stop accepting; give in-flight requests up to five seconds; let a rollup
//! step and a checkpoint in progress finish; close the write queue (later hits get 503); write
//! and commit everything queued; checkpoint. The whole stop takes under ten seconds, and no hit
//! that got a 202 is lost unless the store itself fails.
//!
//! Connections: HTTP/1.1 (what browsers and reverse proxies send; the build never had HTTP/2),
//! served by hyper one task each, in an accept loop of our own rather than `axum::serve`, which
//! sets no timeout and no limit: a client that opens connections and sends nothing, or its
//! headers a byte at a time (slowloris), would hold a task and a file descriptor each for ever.
//! Here every connection's life is bounded (see [`ConnectionSettings`]) and so is their number.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::connect_info::ConnectInfo;
use axum::Extension;
use footfall_queries::WriterReport;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, Semaphore};
use tower::Layer;

use crate::admin;
use crate::app::App;
use crate::memory;
use crate::rate_limit;
use crate::routes::{router, TimeLimit};

/// How long in-flight requests get after the stop signal.
const DRAIN_REQUESTS: Duration = Duration::from_secs(5);
/// How long the writer gets after that to commit what is queued.
const DRAIN_WRITER: Duration = Duration::from_secs(4);
/// A request's line and headers, at most; larger ones get `431`. Also what a connection reads
/// ahead at most, so that with the connection limit it bounds the memory clients can make the
/// server hold: a connection's buffer stays under 32 KiB (hyper's own limit is about 400 KiB,
/// 4 GB over 10,000 connections). Browsers send a few hundred bytes to a few KiB, cookies
/// included; Node.js accepts 16 KiB too.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// File descriptors kept for everything but client connections (the store, its WAL and spill
/// files, the command socket, the listener).
const RESERVED_FILES: u64 = 256;

/// How many connections at once, and how long one may go without sending a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Connections open at once, at most (lowered at start to what the open-file limit
    /// allows). At the limit the server stops accepting until one closes, and new connections
    /// wait in the kernel's queue: every connection's life is bounded by the timeouts below and
    /// the request time limit, so a slot frees within seconds, and a browser whose connection
    /// waits a moment loses nothing, where one that was accepted and closed would lose its hit.
    /// 10,000, the abuse drill's count: an open connection holds about 12 KB, or about 25 KB
    /// while it sends a head near the 16 KiB limit ([`MAX_HEAD_BYTES`]), so 10,000 connections
    /// take 120 MB to 250 MB (measured; tests/abuse_http.rs). Lower it on a small machine.
    pub limit: u32,
    /// For clients that connect directly: how long the server waits for a request's whole head
    /// (line and headers), from the moment the connection opens or its previous answer is
    /// sent. A slowloris client trickling headers is closed after it, and so is an idle
    /// keep-alive connection (hyper measures the two together); browsers reconnect for their
    /// next request without losing anything. 10 s: a real client sends its head in one packet.
    pub header_timeout: Duration,
    /// The same, for connections from trusted proxies, which keep idle connections open to
    /// reuse them: a close that races the proxy's next request fails that request (a 502 for a
    /// hit), so the server must wait longer than the proxy does. nginx keeps upstream
    /// connections 60 s by default and Cloudflare up to 900 s; 900 s covers both. A trusted
    /// proxy holds a handful of connections, so this costs nothing.
    pub proxy_idle_timeout: Duration,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            limit: 10_000,
            header_timeout: Duration::from_secs(10),
            proxy_idle_timeout: Duration::from_secs(900),
        }
    }
}

/// Connections the kernel completes and queues for the server to accept: 4,096 rather than
/// the usual 1,024, so that a burst of new connections is queued, not dropped (the kernel caps
/// it at `net.core.somaxconn`, 4,096 on current Linux).
const ACCEPT_QUEUE: u32 = 4_096;

/// A listener on `addr`, with a long accept queue ([`ACCEPT_QUEUE`]).
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As `TcpListener::bind` does: a restarted server can bind while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_QUEUE)
}

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
    let connection_limit = fit_connection_limit(app.settings.connections.limit);
    let sweeper = tokio::spawn(rate_limit::keep_swept(app.client_limits.clone()));
    let memory_reports = tokio::spawn(memory::keep_reported(app.store.clone()));

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

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopping = app.clone();
    tokio::spawn(async move {
        shutdown.await;
        // The rollup step in progress (a few seconds at most) ends while requests drain.
        stopping.rollups.request_stop();
        let _ = stop_tx.send(true);
    });
    let slots = Arc::new(Semaphore::new(connection_limit as usize));
    accept_until_stopped(listener, &app, slots.clone(), stop_rx).await;
    // The listener is closed: new connections are refused. Every connection holds a slot until
    // it closes, so holding them all means every request has been answered.
    if tokio::time::timeout(DRAIN_REQUESTS, slots.acquire_many(connection_limit))
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still open {DRAIN_REQUESTS:?} after the stop signal; closing them"
        );
    }
    sweeper.abort();
    memory_reports.abort();
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
    Ok(report)
}

/// Accepts connections and serves each on its own task until `stop` turns true; then tells the
/// open connections to finish their request in progress and close, and closes the listener.
/// Each connection holds one of `slots` until it closes.
async fn accept_until_stopped(
    listener: TcpListener,
    app: &Arc<App>,
    slots: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let settings = app.settings.connections;
    let mut direct = http1::Builder::new();
    direct
        .timer(TokioTimer::new())
        .max_buf_size(MAX_HEAD_BYTES)
        .max_header_size(MAX_HEAD_BYTES)
        .header_read_timeout(settings.header_timeout);
    let mut proxied = direct.clone();
    proxied.header_read_timeout(settings.proxy_idle_timeout);
    let router = router(app.clone());
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = stopped(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e, &mut stop).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        // What `into_make_service_with_connect_info` does: the peer for the extractors, and the
        // request time limit around the router, once per connection.
        let service = TowerToHyperService::new(TimeLimit::new(
            Extension(ConnectInfo(peer)).layer(router.clone()),
        ));
        let builder = if app.settings.client_ip.is_proxy(peer.ip()) {
            &proxied
        } else {
            &direct
        };
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        // Timeouts, resets and garbage: the client's problem, not the server's.
                        tracing::trace!("connection ended: {e}");
                    }
                }
                _ = stopped(&mut stop) => {
                    // Idle connections close at once; one with a request in progress closes
                    // once it is answered.
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(slot);
        });
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// After a failed accept. A connection that was reset before it was accepted is no matter; out
/// of file descriptors or memory, waiting a second lets connections close (what hyper and axum
/// do), unless the server is stopping.
async fn accept_failed(e: std::io::Error, stop: &mut watch::Receiver<bool>) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!("cannot accept connections: {e}; trying again in a second");
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        _ = stopped(stop) => {}
    }
}

/// Raises the open-file limit as far as the system allows (its soft limit is often 1,024, far
/// below what the connection limit needs), and returns the connection limit that fits in it.
fn fit_connection_limit(configured: u32) -> u32 {
    let files = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(files) => files,
        Err(e) => {
            tracing::warn!("cannot raise the open-file limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1_024, |(soft, _)| soft)
        }
    };
    let fits = files.saturating_sub(RESERVED_FILES).max(1);
    if u64::from(configured) > fits {
        tracing::warn!(
            "connections.limit is {configured}, but the open-file limit ({files}) leaves room \
             for {fits}: at most {fits} connections at once (raise the limit, e.g. LimitNOFILE= \
             in the systemd unit)"
        );
        fits as u32
    } else {
        configured
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C). The handlers are installed by this call, not when
/// the future is first polled: the server polls it on a task of its own, which a loaded machine
/// may start only after "listening" is logged and requests are answered, and a SIGTERM in that
/// gap would kill the process by default instead of stopping it with its queue written. Call it
/// on the runtime, before [`run`].
#[cfg(unix)]
pub fn stop_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, SignalKind};
    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        let (Ok(mut terminate), Ok(mut interrupt)) = (terminate, interrupt) else {
            tracing::warn!(
                "cannot catch SIGTERM and SIGINT: either ends the server without writing its queue"
            );
            return std::future::pending().await;
        };
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received, stopping"),
            _ = terminate.recv() => tracing::info!("SIGTERM received, stopping"),
        }
    }
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
pub fn stop_signal() -> impl Future<Output = ()> + Send + 'static {
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C received, stopping");
    }
}
