//! The load itself: `connections` keep-alive HTTP/1.1 connections, each sending the next prepared
//! request as soon as the previous answer is read (a closed loop, as `wrk` does), until the time
//! is up. Requests in flight when time is up are still read and counted, so every answer the
//! server gave is in the tally: what makes "accepted = stored" checkable.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{Request, StatusCode};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::mix::Template;

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Answers with the expected status.
    pub expected: u64,
    /// Other answers, by status.
    pub other: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection refused, reset or closed).
    pub errors: u64,
    /// Latency of every answered request, in microseconds.
    pub latency: Histogram<u64>,
    /// From the first request sent to the last answer read.
    pub elapsed: Duration,
}

impl Outcome {
    /// Nothing counted yet.
    fn empty() -> Outcome {
        Outcome {
            expected: 0,
            other: BTreeMap::new(),
            errors: 0,
            // 1 µs to 60 s, three significant digits.
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
            elapsed: Duration::ZERO,
        }
    }

    /// Adds another connection's counts to these.
    fn add(&mut self, part: Outcome) {
        self.expected += part.expected;
        self.errors += part.errors;
        for (status, n) in part.other {
            *self.other.entry(status).or_default() += n;
        }
        self.latency.add(&part.latency).expect("same bounds");
    }

    pub fn answered(&self) -> u64 {
        self.expected + self.other.values().sum::<u64>()
    }

    pub fn per_second(&self) -> f64 {
        self.answered() as f64 / self.elapsed.as_secs_f64()
    }

    /// Answers outside 2xx.
    pub fn non_2xx(&self) -> u64 {
        self.other
            .iter()
            .filter(|(status, _)| !(200..300).contains(*status))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1_000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.latency.max() as f64 / 1_000.0
    }
}

/// Sends `requests` (cycled, each connection from its own offset) to `addr` over `connections`
/// connections for `duration`, counting answers with status `expect` apart from the rest.
pub async fn drive(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    requests: Arc<Vec<Template>>,
    expect: StatusCode,
) -> Outcome {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|i| {
            let requests = requests.clone();
            let offset = i * requests.len() / connections.max(1);
            tokio::spawn(connection(addr, deadline, requests, offset, expect))
        })
        .collect();
    let mut total = Outcome::empty();
    for task in tasks {
        total.add(task.await.expect("a connection task panicked"));
    }
    total.elapsed = started.elapsed();
    total
}

/// One connection's closed loop; reconnects after an error (counting it) until the deadline.
async fn connection(
    addr: SocketAddr,
    deadline: Instant,
    requests: Arc<Vec<Template>>,
    mut next: usize,
    expect: StatusCode,
) -> Outcome {
    let mut out = Outcome::empty();
    'connect: while Instant::now() < deadline {
        let Ok(stream) = TcpStream::connect(addr).await else {
            out.errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, conn)) = http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await
        else {
            out.errors += 1;
            continue;
        };
        tokio::spawn(conn);
        while Instant::now() < deadline {
            let template = &requests[next % requests.len()];
            next += 1;
            let mut request = Request::new(Full::new(template.body.clone()));
            *request.method_mut() = template.method.clone();
            *request.uri_mut() = template.uri.clone();
            *request.headers_mut() = template.headers.clone();
            let sent = Instant::now();
            let answer = match sender.send_request(request).await {
                Ok(response) => {
                    let status = response.status();
                    response.into_body().collect().await.map(|_| status)
                }
                Err(e) => Err(e),
            };
            match answer {
                Ok(status) => {
                    let micros = sent.elapsed().as_micros().max(1) as u64;
                    out.latency.saturating_record(micros);
                    if status == expect {
                        out.expected += 1;
                    } else {
                        *out.other.entry(status.as_u16()).or_default() += 1;
                    }
                }
                Err(_) => {
                    out.errors += 1;
                    continue 'connect;
                }
            }
        }
    }
    out
}
