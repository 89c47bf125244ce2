//! Reliability drill 7, abuse (docs/reliability.md): the real server under a flood from one
//! client, ten thousand slow and idle connections, forged forwarding headers, and two clients
//! behind a trusted proxy.
//!
//! Clients are told apart by their real source address: Linux routes all of 127.0.0.0/8 to the
//! loopback interface, so a client bound to 127.0.0.2 is a different peer from one at
//! 127.0.0.3, with no header involved.
//!
//! `FOOTFALL_ABUSE_CONNECTIONS` changes the number of slow and idle connections (10,000), and
//! `FOOTFALL_ABUSE_FLOOD_SECONDS` the length of the flood (3).
//!
//! The drills run one at a time (each takes the lock below): they measure latency and memory,
//! which other drills running beside them would disturb.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

static ONE_AT_A_TIME: LazyLock<tokio::sync::Mutex<()>> =
    LazyLock::new(|| tokio::sync::Mutex::new(()));

const PAGEVIEW: &str = r#"{"n":"pageview","u":"https://example.com/"}"#;

/// A pageview posted to `url` (the server's `/api/event`) as a browser does.
fn pageview_request(http: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
    http.post(url).header("user-agent", FIREFOX).body(PAGEVIEW)
}

/// Sends [`pageview_request`]: the answer's status.
async fn hit(http: &reqwest::Client, url: &str) -> StatusCode {
    pageview_request(http, url).send().await.unwrap().status()
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A client whose connections come from `source` (an address in 127.0.0.0/8).
fn client_from(source: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::from(source)))
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// An address a client might forge, from the test GeoIP database's networks (so a forged one
/// that was believed would show up as a country).
fn forged_ip(rng: &mut impl Rng) -> String {
    match rng.random_range(0..4) {
        0 => format!("81.2.69.{}", rng.random_range(1..255)),
        1 => format!("198.51.100.{}", rng.random_range(1..255)),
        2 => format!("203.0.113.{}", rng.random_range(1..255)),
        _ => format!("2001:db8::{:x}", rng.random::<u16>()),
    }
}

/// One of the forwarding headers, with a forged value.
fn forged_header(rng: &mut impl Rng) -> (&'static str, String) {
    let ip = forged_ip(rng);
    match rng.random_range(0..5) {
        0 => ("x-forwarded-for", ip),
        1 => ("x-forwarded-for", format!("{ip}, {}", forged_ip(rng))),
        2 => ("forwarded", format!("for=\"{ip}\";proto=https")),
        3 => ("cf-connecting-ip", ip),
        _ => ("x-real-ip", ip),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A `/proc/PID/status` figure in kB (`VmRSS:`, `VmHWM:`).
fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_client_gets_429s_while_others_keep_working() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start(
        "[[sites]]\ndomain = \"example.com\"\npublic_counters = true\ncounter_min_visitors = 1\n",
    );
    let flood_for = Duration::from_secs(env_number("FOOTFALL_ABUSE_FLOOD_SECONDS", 3));
    let flooding = Arc::new(AtomicBool::new(true));

    // Four clients using the site normally (a hit, then a count, every 10 ms each) for as long
    // as the flood lasts.
    let mut others = tokio::task::JoinSet::new();
    for n in 0..4u8 {
        let http = client_from([127, 0, 0, 10 + n]);
        let (event_url, counter_url) = (
            server.url("/api/event"),
            server.url("/api/counter?site=example.com&path=/"),
        );
        let flooding = flooding.clone();
        others.spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = Vec::new();
            while flooding.load(Ordering::Relaxed) {
                let started = Instant::now();
                let status = hit(&http, &event_url).await;
                latencies.push(started.elapsed());
                if status != StatusCode::ACCEPTED {
                    failures.push(status);
                }
                let started = Instant::now();
                let status = http.get(&counter_url).send().await.unwrap().status();
                latencies.push(started.elapsed());
                if status != StatusCode::OK {
                    failures.push(status);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (latencies, failures)
        });
    }

    // One client at 127.0.0.2 floods hits and counts over 16 connections, each request with a
    // forged forwarding header (which must change nothing: no proxy is trusted).
    let flooder = client_from([127, 0, 0, 2]);
    let counts = Arc::new([(); 6].map(|_| AtomicU64::new(0)));
    let (accepted, refused, other) = (0, 1, 2);
    let started = Instant::now();
    let mut flood = tokio::task::JoinSet::new();
    for task in 0..16 {
        let (http, counts) = (flooder.clone(), counts.clone());
        let (event_url, counter_url) = (
            server.url("/api/event"),
            server.url("/api/counter?site=example.com"),
        );
        flood.spawn(async move {
            let mut rng = rand::rngs::StdRng::from_os_rng();
            while started.elapsed() < flood_for {
                // Three hits for every read.
                let reading = task % 4 == 3;
                let (name, value) = forged_header(&mut rng);
                let request = if reading {
                    http.get(&counter_url)
                } else {
                    pageview_request(&http, &event_url)
                };
                let response = request.header(name, value).send().await.unwrap();
                let base = if reading { 3 } else { 0 };
                let slot = match response.status() {
                    StatusCode::ACCEPTED | StatusCode::OK => accepted,
                    StatusCode::TOO_MANY_REQUESTS => {
                        let wait: u64 = response.headers()["retry-after"]
                            .to_str()
                            .unwrap()
                            .parse()
                            .unwrap();
                        assert!((1..=10).contains(&wait), "Retry-After: {wait}");
                        let body: serde_json::Value = response.json().await.unwrap();
                        let reason = body["error"].as_str().unwrap();
                        assert!(reason.starts_with("too many"), "{reason}");
                        refused
                    }
                    _ => other,
                };
                counts[base + slot].fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while let Some(done) = flood.join_next().await {
        done.unwrap();
    }
    let flood_took = started.elapsed();
    flooding.store(false, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    while let Some(done) = others.join_next().await {
        let (l, f) = done.unwrap();
        latencies.extend(l);
        failures.extend(f);
    }
    latencies.sort();
    let [events_ok, events_429, events_other, reads_ok, reads_429, reads_other] =
        counts.each_ref().map(|c| c.load(Ordering::Relaxed));
    let p50 = percentile(&latencies, 0.5);
    let p99 = percentile(&latencies, 0.99);
    println!(
        "flood of {flood_took:.1?} from one client: hits {events_ok} accepted, {events_429} got 429; \
         reads {reads_ok} answered, {reads_429} got 429. Four other clients: {} requests, {} \
         failed, p50 {p50:.1?}, p99 {p99:.1?}, max {:.1?}",
        latencies.len(),
        failures.len(),
        latencies.last().copied().unwrap_or_default()
    );
    assert_eq!((events_other, reads_other), (0, 0), "only 2xx and 429");
    // The default limits: hits 100 a second in bursts of 1,000, reads 50 a second in bursts
    // of 500 (a little slack for the time the requests took to arrive).
    let seconds = flood_took.as_secs_f64() + 1.0;
    assert!(
        events_ok as f64 <= 1_000.0 + 100.0 * seconds,
        "{events_ok} hits let through"
    );
    assert!(
        reads_ok as f64 <= 500.0 + 50.0 * seconds,
        "{reads_ok} reads let through"
    );
    assert!(events_429 > events_ok, "the flood was held back");
    assert!(reads_429 > 0);
    assert!(
        failures.is_empty(),
        "other clients were refused: {failures:?}"
    );
    assert!(latencies.len() > 100, "other clients made requests");
    assert!(
        p99 < Duration::from_millis(100),
        "other clients' p99 {p99:?}"
    );
    let (_, logs) = server.stop();
    assert!(!logs.contains("127.0.0.2"), "no client address is logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_slow_or_idle_connections_are_closed_and_memory_stays_bounded() {
    let _one = ONE_AT_A_TIME.lock().await;
    let files = rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let connections = env_number("FOOTFALL_ABUSE_CONNECTIONS", 10_000).min(files - 500);
    // A limit above the drill's count, so that all are open at once; a timeout long enough for
    // all to be opened before the first is closed.
    let server = Server::start(
        "[[sites]]\ndomain = \"example.com\"\n[connections]\nlimit = 15000\n\
         header_timeout_seconds = 4\n",
    );
    let addr = server.base.trim_start_matches("http://").to_owned();
    let pid = server.pid();
    // Warm up: the first requests allocate what every later one reuses.
    let http = client_from([127, 0, 0, 3]);
    for _ in 0..50 {
        let status = hit(&http, &server.url("/api/event")).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let rss_before = status_kb(pid, "VmRSS:");
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");

    // Three kinds, in turn: connect and send nothing; send a request line and 12 KB of headers
    // (most of what a head may hold, so the server buffers it), then a byte every 500 ms
    // (slowloris); send one request, read the answer, then stay idle (keep-alive). Each waits for the server to close it and says when that happened.
    let started = Instant::now();
    let connected = Arc::new(AtomicU64::new(0));
    let last_connected_ms = Arc::new(AtomicU64::new(0));
    let closed = Arc::new(AtomicU64::new(0));
    let mut bad = tokio::task::JoinSet::new();
    for i in 0..connections {
        let addr = addr.clone();
        let (connects, last_connected_ms, closed) =
            (connected.clone(), last_connected_ms.clone(), closed.clone());
        bad.spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.expect("connect");
            connects.fetch_add(1, Ordering::Relaxed);
            last_connected_ms.fetch_max(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            let mut buf = vec![0u8; 4096];
            let closed_at = async {
                match i % 3 {
                    0 => {}
                    1 => {
                        stream
                            .write_all(
                                format!(
                                    "POST /api/event HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n",
                                    "p".repeat(12_000)
                                )
                                .as_bytes(),
                            )
                            .await
                            .unwrap();
                        for byte in b"X-Slow: ".iter().cycle() {
                            tokio::select! {
                                read = stream.read(&mut buf) => {
                                    // Closed (hyper answers 408 first), or reset.
                                    if matches!(read, Ok(0) | Err(_)) {
                                        return started.elapsed();
                                    }
                                }
                                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                                    if stream.write_all(&[*byte]).await.is_err() {
                                        return started.elapsed();
                                    }
                                }
                            }
                        }
                    }
                    _ => {
                        stream
                            .write_all(b"GET /script.js HTTP/1.1\r\nHost: x\r\n\r\n")
                            .await
                            .unwrap();
                        let n = stream.read(&mut buf).await.unwrap();
                        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
                    }
                }
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return started.elapsed(),
                        Ok(_) => {}
                    }
                }
            }
            .await;
            closed.fetch_add(1, Ordering::Relaxed);
            closed_at
        });
        // In waves of 500, so that the test's own connects do not overflow the kernel's accept
        // queue (connections it drops would never reach the server).
        if (i + 1) % 500 == 0 {
            while connected.load(Ordering::Relaxed) < i + 1 {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "cannot connect"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    // Meanwhile a real client (another address) keeps sending hits, until every one of those
    // connections is closed.
    let mut latencies = Vec::new();
    let mut peak_rss = 0;
    let mut most_open = 0;
    while closed.load(Ordering::Relaxed) < connections
        && started.elapsed() < Duration::from_secs(40)
    {
        let begun = Instant::now();
        let status = hit(&http, &server.url("/api/event")).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        latencies.push(begun.elapsed());
        peak_rss = peak_rss.max(status_kb(pid, "VmRSS:"));
        most_open =
            most_open.max(connected.load(Ordering::Relaxed) - closed.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut closed_after = Vec::new();
    while let Ok(Some(done)) = tokio::time::timeout(Duration::from_secs(5), bad.join_next()).await {
        closed_after.push(done.unwrap());
    }
    let opened = Duration::from_millis(last_connected_ms.load(Ordering::Relaxed));
    let peak_hwm = status_kb(pid, "VmHWM:");
    let rss_after = status_kb(pid, "VmRSS:");
    closed_after.sort();
    latencies.sort();
    println!(
        "{connections} slow or idle connections, all open after {opened:.1?} (at most {most_open} \
         open at once); the server closed them {:.1?} to {:.1?} after the first was opened \
         ({} of {connections}); server memory: {} MB before, {} MB at the peak (VmHWM {} MB), \
         {} MB after; a real client meanwhile: {} requests, all accepted, p99 {:.1?}",
        closed_after.first().copied().unwrap_or_default(),
        closed_after.last().copied().unwrap_or_default(),
        closed_after.len(),
        rss_before / 1024,
        peak_rss / 1024,
        peak_hwm / 1024,
        rss_after / 1024,
        latencies.len(),
        percentile(&latencies, 0.99),
    );
    assert_eq!(
        closed_after.len() as u64,
        connections,
        "every slow or idle connection was closed by the server"
    );
    assert!(
        most_open > connections * 9 / 10,
        "they were open at the same time"
    );
    // Each by the 4 s timeout: not earlier, and not much later than the last was opened.
    assert!(
        closed_after[0] >= Duration::from_millis(3_900),
        "{:?}",
        closed_after[0]
    );
    assert!(
        *closed_after.last().unwrap() < opened + Duration::from_secs(8),
        "{:?}",
        closed_after.last()
    );
    assert!(latencies.len() > 50, "the real client was served meanwhile");
    // Bounded: about 12 KB per connection, and some 22 KB for one holding a large partial head
    // (the server buffers at most 16 KiB of head; hyper's own default is 400 KiB).
    let grown_mb = peak_hwm.saturating_sub(rss_before) / 1024;
    assert!(
        grown_mb * 1024 * 1024 < connections * 25_000,
        "{connections} connections took {grown_mb} MB more than an idle server"
    );
    // And still serving afterwards.
    let status = hit(&http, &server.url("/api/event")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    server.stop();
}

#[tokio::test]
async fn without_a_trusted_proxy_forged_forwarding_headers_make_one_visitor() {
    let _one = ONE_AT_A_TIME.lock().await;
    // The repeat limit off, so that all 1,000 pageviews are stored and counted.
    let server = Server::start(
        "[[sites]]\ndomain = \"example.com\"\n[collector]\nrepeat_pageview_limit = 0\n",
    );
    let http = client();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1_000 {
        let (http, url) = (http.clone(), server.url("/api/event"));
        let mut rng = rand::rng();
        // One to three forged headers on each request.
        let headers: Vec<_> = (0..rng.random_range(1..=3))
            .map(|_| forged_header(&mut rng))
            .collect();
        tasks.spawn(async move {
            let mut request = http.post(url).header("user-agent", FIREFOX).body(format!(
                r#"{{"n":"pageview","u":"https://example.com/p/{i}"}}"#
            ));
            for (name, value) in headers {
                request = request.header(name, value);
            }
            request.send().await.unwrap().status()
        });
        if tasks.len() >= 8 {
            assert_eq!(
                tasks.join_next().await.unwrap().unwrap(),
                StatusCode::ACCEPTED
            );
        }
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::ACCEPTED);
    }
    let (dir, _) = server.stop();
    let db = open_db(&dir.path().join("data/footfall.duckdb"));
    let events = count(&db, "SELECT count(*) FROM events");
    let visitors = count(&db, "SELECT count(DISTINCT visitor_id) FROM events");
    let visits = count(&db, "SELECT count(DISTINCT session_id) FROM events");
    let located = count(&db, "SELECT count(*) FROM events WHERE country <> ''");
    println!(
        "1,000 pageviews with forged forwarding headers: {events} stored, {visitors} visitor, \
         {visits} visit, {located} with a country"
    );
    assert_eq!(events, 1_000);
    assert_eq!(visitors, 1);
    assert_eq!(visits, 1);
    assert_eq!(located, 0, "no forged address was used for the location");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_bucket() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start(
        "trusted_proxies = [\"127.0.0.1\"]\n[[sites]]\ndomain = \"example.com\"\n\
         [rate_limits]\nevents_per_second = 5\nevents_burst = 50\nreads_per_second = 5\n\
         reads_burst = 30\n",
    );
    let http = client();
    // What the proxy appends is the client; a client writing someone else's address to the left
    // of its own changes nothing.
    let a = ["198.51.100.1", "198.51.100.2, 198.51.100.1"];
    let b = "198.51.100.2";
    let send = |xff: &str, path: &str| {
        let request = if path == "/api/event" {
            pageview_request(&http, &server.url(path))
        } else {
            http.get(server.url(path))
        };
        request.header("x-forwarded-for", xff.to_owned()).send()
    };
    let (mut a_ok, mut a_429, mut b_ok) = (0, 0, 0);
    for i in 0..200 {
        for path in ["/api/event", "/api/counter?site=example.com"] {
            match send(a[i % 2], path).await.unwrap().status() {
                StatusCode::TOO_MANY_REQUESTS => a_429 += 1,
                s if s.is_success() => a_ok += 1,
                s => panic!("{s}"),
            }
            if i % 10 == 0 {
                let status = send(b, path).await.unwrap().status();
                assert!(status.is_success(), "client B got {status} after A's {i}");
                b_ok += 1;
            }
        }
    }
    println!(
        "behind a trusted proxy: client A {a_ok} answered, {a_429} got 429; client B {b_ok} \
         answered, none refused"
    );
    assert!(a_429 >= 250, "{a_429}");
    assert!(a_ok >= 70, "{a_ok}");
    assert_eq!(b_ok, 40);
    server.stop();
}

#[tokio::test]
async fn past_the_connection_limit_new_connections_wait_for_a_slot() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start(
        "[[sites]]\ndomain = \"example.com\"\n[connections]\nlimit = 20\n\
         header_timeout_seconds = 2\n",
    );
    let addr = server.base.trim_start_matches("http://").to_owned();
    // Twenty idle connections take every slot...
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // ...so a new client's connection waits in the kernel's queue (it is not refused) until
    // the idle ones are closed by the timeout, and then it is served.
    let started = Instant::now();
    let status = hit(&client(), &server.url("/api/event")).await;
    let waited = started.elapsed();
    println!("at the connection limit, a new client waited {waited:.1?} for a slot");
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(
        waited > Duration::from_millis(1_000) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    drop(idle);
    server.stop();
}
