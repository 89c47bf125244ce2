//! The reliability drills behind `footfall-drill` (docs/reliability.md): the real server as a
//! child process, traffic whose every event can be found again ([`steady`]), what the store
//! holds afterwards ([`stored`]), a site's history to start from ([`seed`]), and disks that fill up or stall ([`disk`]).

pub mod crash;
pub mod disk;
pub mod full;
pub mod seed;
pub mod soak;
pub mod stall;
pub mod steady;
pub mod stored;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::load::process::sibling;

/// The writer's flush interval in the drills' server (its default): what a crash may lose.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// Writes the drills' configuration into `dir` (loopback only; the drill trusted as the proxy
/// that names each visitor; per-client rate limits off, since every event comes from one
/// address, and the Stats API key's budget out of reach) with `extra` appended, and returns
/// the command that serves from `data`.
pub fn footfall(dir: &Path, data: &Path, extra: &str) -> std::io::Result<Command> {
    let config = dir.join("footfall.toml");
    std::fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:0"
trusted_proxies = ["127.0.0.1"]

[rate_limits]
events_per_second = 0

# The soak asks the Stats API every second with one key.
[api]
requests_per_hour = 1000000

[[sites]]
domain = "{}"
{extra}"#,
            steady::DOMAIN
        ),
    )?;
    let mut command = Command::new(sibling("footfall"));
    command
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(data)
        .arg("serve")
        .env("RUST_LOG", "info");
    Ok(command)
}

/// The drills' client runtime: two threads, so traffic flows while the drill's own thread
/// sleeps, signals and reads the store.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Asks `/healthz` once: `Some(true)` healthy, `Some(false)` unhealthy, `None` no answer.
pub async fn healthy(addr: std::net::SocketAddr) -> Option<bool> {
    use http_body_util::{BodyExt, Empty};
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<axum::body::Bytes>>(
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .ok()?;
    tokio::spawn(conn);
    let request = axum::http::Request::get("/healthz")
        .header("host", "localhost")
        .body(Empty::new())
        .ok()?;
    let response = tokio::time::timeout(Duration::from_secs(10), sender.send_request(request))
        .await
        .ok()?
        .ok()?;
    let status = response.status();
    let _ = response.into_body().collect().await;
    Some(status.is_success())
}
