//! The drills' traffic: pageviews that each carry a key of their own in the path
//! (`/d/{round}/{key}`), sent over keep-alive connections at a steady rate (or as fast as the
//! server answers), with every answer written down. Comparing the keys answered 202 with the
//! keys in the store afterwards shows exactly which acknowledged events were lost and which
//! were stored twice.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The drills' site.
pub const DOMAIN: &str = "drill.test";

/// A desktop browser's user agent, so no event is dropped as a bot's.
const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// What one request got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// An answer, with whether it carried `Retry-After`.
    Status { status: u16, retry_after: bool },
    /// No answer: refused, reset or closed (the server was killed or stopping).
    NoAnswer,
}

/// One request and its fate.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    pub key: u64,
    pub reply: Reply,
    /// When the answer (or the failure) arrived.
    pub at: Instant,
}

impl Sent {
    pub fn accepted(&self) -> bool {
        matches!(self.reply, Reply::Status { status: 202, .. })
    }
}

/// How to send.
#[derive(Debug, Clone)]
pub struct Traffic {
    pub addr: SocketAddr,
    /// Keys go in the path under this round, so each round's events are told apart.
    pub round: u64,
    pub connections: usize,
    /// Events per second over all connections; `None`: each connection sends its next event as
    /// soon as the last is answered.
    pub rate: Option<f64>,
    /// Bytes of padding in each path, to fill a disk sooner.
    pub padding: usize,
    /// Spread the events over this many pages (keys modulo it) instead of one path each, as a
    /// site's real traffic does; the keys no longer tell events apart then.
    pub pages: Option<u64>,
}

/// Traffic under way; [`Running::finish`] stops it and hands back every request's fate.
pub struct Running {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<Sent>>>,
}

/// The path that carries `key`.
pub fn path(round: u64, key: u64, padding: usize) -> String {
    let mut path = format!("/d/{round}/{key}");
    if padding > 0 {
        path.push('/');
        // Varied, so the store cannot squeeze it to nothing.
        path.extend((0..padding).map(|i| {
            let c = (key.wrapping_mul(31).wrapping_add(i as u64 * 7919)) % 36;
            char::from_digit(c as u32, 36).unwrap_or('x')
        }));
    }
    path
}

/// The key a stored path carries, if it is one of the drills'.
pub fn key_of(path: &str) -> Option<(u64, u64)> {
    let mut parts = path.strip_prefix("/d/")?.split('/');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Starts sending on the current tokio runtime.
pub fn start(traffic: Traffic) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let keys = Arc::new(AtomicU64::new(0));
    let connections = traffic.connections.max(1);
    // Each connection sends at its share of the rate.
    let interval = traffic
        .rate
        .map(|rate| Duration::from_secs_f64(connections as f64 / rate.max(0.001)));
    let tasks = (0..connections)
        .map(|_| {
            tokio::spawn(connection(
                traffic.clone(),
                interval,
                keys.clone(),
                stop.clone(),
            ))
        })
        .collect();
    Running { stop, tasks }
}

impl Running {
    /// Stops sending; requests in flight are still answered (or fail) and are counted.
    pub async fn finish(self) -> Vec<Sent> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for task in self.tasks {
            all.extend(task.await.expect("a sending task panicked"));
        }
        all.sort_by_key(|s| s.key);
        all
    }
}

/// One connection: sends until told to stop, reconnecting after failures (a server that was
/// killed is restarted by the drill; until then connecting fails and is counted once a try).
async fn connection(
    traffic: Traffic,
    interval: Option<Duration>,
    keys: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> Vec<Sent> {
    let mut sent = Vec::new();
    let mut next_at = Instant::now();
    'connect: while !stop.load(Ordering::Relaxed) {
        let Ok(stream) = TcpStream::connect(traffic.addr).await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, conn)) = http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await
        else {
            continue;
        };
        tokio::spawn(conn);
        while !stop.load(Ordering::Relaxed) {
            if let Some(interval) = interval {
                next_at += interval;
                let now = Instant::now();
                if next_at > now {
                    tokio::time::sleep(next_at - now).await;
                } else if now - next_at > Duration::from_secs(1) {
                    // Far behind (the server stalled): resume the pace from now, not in a burst.
                    next_at = now;
                }
            }
            let key = keys.fetch_add(1, Ordering::Relaxed);
            let reply = match sender.send_request(event(&traffic, key)).await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response.headers().contains_key(header::RETRY_AFTER);
                    match response.into_body().collect().await {
                        Ok(_) => Reply::Status {
                            status: status.as_u16(),
                            retry_after,
                        },
                        Err(_) => Reply::NoAnswer,
                    }
                }
                Err(_) => Reply::NoAnswer,
            };
            sent.push(Sent {
                key,
                reply,
                at: Instant::now(),
            });
            if reply == Reply::NoAnswer {
                continue 'connect;
            }
        }
    }
    sent
}

/// The pageview that carries `key`, from one of a few thousand visitors behind the trusted
/// loopback proxy.
fn event(traffic: &Traffic, key: u64) -> Request<Full<Bytes>> {
    let body = format!(
        r#"{{"n":"pageview","u":"https://{DOMAIN}{}","d":"{DOMAIN}"}}"#,
        path(
            traffic.round,
            traffic.pages.map_or(key, |pages| key % pages.max(1)),
            traffic.padding
        )
    );
    let visitor = key % 4096;
    let mut request = Request::new(Full::new(Bytes::from(body)));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = "/api/event".parse().expect("a valid path");
    let headers = request.headers_mut();
    headers.insert(header::HOST, HeaderValue::from_static(DOMAIN));
    headers.insert(header::USER_AGENT, HeaderValue::from_static(BROWSER));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    headers.insert(
        "x-forwarded-for",
        HeaderValue::from_str(&format!("10.9.{}.{}", visitor / 256, visitor % 256))
            .expect("an address is a valid header"),
    );
    request
}

/// Answers by status (`0`: no answer).
pub fn tally(sent: &[Sent]) -> BTreeMap<u16, u64> {
    let mut by_status = BTreeMap::new();
    for s in sent {
        let status = match s.reply {
            Reply::Status { status, .. } => status,
            Reply::NoAnswer => 0,
        };
        *by_status.entry(status).or_default() += 1;
    }
    by_status
}

/// Whether every answer with `status` carried `Retry-After`.
pub fn all_retry_after(sent: &[Sent], status: StatusCode) -> bool {
    sent.iter().all(|s| match s.reply {
        Reply::Status {
            status: got,
            retry_after,
        } if got == status.as_u16() => retry_after,
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_gives_back_its_key() {
        for padding in [0, 1, 300] {
            let p = path(7, 123_456, padding);
            assert_eq!(key_of(&p), Some((7, 123_456)), "{p}");
            assert!(p.len() >= padding);
        }
        assert_eq!(key_of("/blog/post"), None);
        assert_eq!(key_of("/d/x/1"), None);
    }
}
