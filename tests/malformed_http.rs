//! Reliability drill 1, malformed input (`docs/reliability.md`): a corpus of bad requests made
//! from a seed, sent over raw TCP to the real server, so that broken HTTP, bad UTF-8 and NUL
//! bytes reach it the way a hostile client would send them, spread over every public endpoint.
//!
//! Pass: no answer is a 5xx, the log never says `panicked`, every 4xx says why in its body, and
//! the server is healthy afterwards and stops cleanly. Requests the HTTP parser (hyper) refuses
//! before any route sees them (a 400, 414, 431 or 505 without a body, or a closed connection)
//! are counted apart as "refused by the HTTP parser": they carry no reason by design, and only
//! requests that are malformed at the HTTP level may end that way.
//!
//! The suite sends 10,000 requests; the full drill sends more:
//! `FOOTFALL_MALFORMED=100000 FOOTFALL_MALFORMED_SEED=2026 cargo test --release --workspace
//! --locked --test malformed_http -- --nocapture`. Each request is made from (seed, index)
//! alone, whatever the order the connections take them in, so a failure the test names by its
//! index comes back with the same seed.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Public counters on, and the Stats API's hourly budget at its maximum, so that bad requests
/// reach the parsers rather than the rate limit.
const CONFIG: &str = "[api]\nrequests_per_hour = 10000000\n\
    [[sites]]\ndomain = \"example.com\"\npublic_counters = true\ncounter_exclude = [\"/drafts/**\"]\n";

/// The per-client rate limits off: every request here comes from one address, and the drill is
/// about what the parsers make of bad input, not about floods (drill 7).
const NO_RATE_LIMITS: &[(&str, &str)] = &[
    ("FOOTFALL_RATE_LIMITS__EVENTS_PER_SECOND", "0"),
    ("FOOTFALL_RATE_LIMITS__READS_PER_SECOND", "0"),
];

/// Requests the test suite sends; `FOOTFALL_MALFORMED` sets another number.
const SUITE_REQUESTS: u64 = 10_000;
const SUITE_SEED: u64 = 1;
/// Connections open at once.
const CONNECTIONS: usize = 8;
/// Longer than the server's own request time limit (10 s), which answers 408 with a reason:
/// past this the server has left a request unanswered.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(30);
/// Kinds of failure described when the test fails.
const FAILURES_SHOWN: usize = 25;

// ---------------------------------------------------------------------------------------------
// What is sent where
// ---------------------------------------------------------------------------------------------

/// The kinds of bad input the drill asks for, plus oversized bodies, broken syntax (JSON, forms,
/// query strings) and broken HTTP framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Category {
    TruncatedUtf8,
    OverlongUtf8,
    NulBytes,
    LoneSurrogates,
    DeepNesting,
    HugeNumbers,
    DuplicateKeys,
    ContentTypes,
    EmptyBodies,
    WrongMethods,
    OversizedHeaders,
    OversizedBodies,
    PathTraversal,
    BrokenSyntax,
    BrokenFraming,
}

impl Category {
    const ALL: [Category; 15] = [
        Category::TruncatedUtf8,
        Category::OverlongUtf8,
        Category::NulBytes,
        Category::LoneSurrogates,
        Category::DeepNesting,
        Category::HugeNumbers,
        Category::DuplicateKeys,
        Category::ContentTypes,
        Category::EmptyBodies,
        Category::WrongMethods,
        Category::OversizedHeaders,
        Category::OversizedBodies,
        Category::PathTraversal,
        Category::BrokenSyntax,
        Category::BrokenFraming,
    ];

    fn name(self) -> &'static str {
        match self {
            Category::TruncatedUtf8 => "truncated UTF-8",
            Category::OverlongUtf8 => "overlong UTF-8",
            Category::NulBytes => "NUL bytes",
            Category::LoneSurrogates => "lone surrogates",
            Category::DeepNesting => "deep nesting",
            Category::HugeNumbers => "huge numbers",
            Category::DuplicateKeys => "duplicate keys",
            Category::ContentTypes => "wrong/missing content type",
            Category::EmptyBodies => "empty bodies",
            Category::WrongMethods => "wrong methods",
            Category::OversizedHeaders => "oversized headers",
            Category::OversizedBodies => "oversized bodies",
            Category::PathTraversal => "path traversal",
            Category::BrokenSyntax => "broken JSON/form/query",
            Category::BrokenFraming => "broken HTTP framing",
        }
    }
}

/// Where an endpoint takes its input from; each holds the plausible values a bad one is mixed
/// into, so that the bad part reaches the parsers behind the first checks.
#[derive(Clone, Copy)]
enum Input {
    None,
    /// A JSON object, as (key, JSON value) pairs.
    Json(&'static [(&'static str, &'static str)]),
    /// A form, as (name, text) pairs.
    Form(&'static [(&'static str, &'static str)]),
    /// The query string, as (name, text) pairs.
    Query(&'static [(&'static str, &'static str)]),
    /// The path's last segment (the endpoint's path ends with `/`).
    Segment(&'static str),
}

/// What lets a request past the door, so that its input is read at all.
#[derive(Clone, Copy)]
enum Credential {
    None,
    /// A Stats API key.
    Bearer,
    /// A signed-in owner's session cookie.
    Session,
    /// A shared link's token in its header.
    Share,
}

struct Endpoint {
    method: &'static str,
    /// `{share}` stands for a shared link's token.
    path: &'static str,
    input: Input,
    credential: Credential,
    /// May run an argon2 check. Those go one at a time: the server sheds more than a few at
    /// once with a 503 (load, which is drill 7's subject, not malformed input).
    serial: bool,
}

impl Endpoint {
    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

const fn endpoint(
    method: &'static str,
    path: &'static str,
    input: Input,
    credential: Credential,
) -> Endpoint {
    Endpoint {
        method,
        path,
        input,
        credential,
        serial: false,
    }
}

const fn one_at_a_time(mut e: Endpoint) -> Endpoint {
    e.serial = true;
    e
}

const EVENT: &[(&str, &str)] = &[
    ("n", "\"pageview\""),
    ("u", "\"https://example.com/posts/1\""),
    ("d", "\"example.com\""),
    ("r", "\"https://news.example.org/\""),
    ("p", "{\"author\":\"ann\"}"),
];
const STATS_QUERY: &[(&str, &str)] = &[
    ("site_id", "\"example.com\""),
    ("metrics", "[\"visitors\",\"pageviews\"]"),
    ("date_range", "\"7d\""),
    ("dimensions", "[\"event:page\"]"),
    ("filters", "[[\"contains\",\"event:page\",[\"/posts\"]]]"),
];
const PERIOD_ONLY: &[(&str, &str)] = &[("site_id", "\"example.com\""), ("date_range", "\"30d\"")];
const SITE_RULES: &[(&str, &str)] = &[
    ("command", "\"site_rules\""),
    ("domain", "\"example.com\""),
    ("exclude_paths", "[\"/private/**\"]"),
    ("hidden_paths", "[\"/drafts/**\"]"),
];
const SITE_ADD: &[(&str, &str)] = &[
    ("command", "\"site_add\""),
    ("domain", "\"odd.example\""),
    ("timezone", "\"Europe/Paris\""),
];
const GOAL_ADD: &[(&str, &str)] = &[
    ("command", "\"goal_add\""),
    ("site", "\"example.com\""),
    ("page", "\"/thanks\""),
];
const SHARE_ADD: &[(&str, &str)] = &[
    ("command", "\"share_add\""),
    ("site", "\"example.com\""),
    ("label", "\"drill\""),
];
const EXPORT: &[(&str, &str)] = &[
    (
        "q",
        "{\"site_id\":\"example.com\",\"metrics\":[\"visitors\"],\"date_range\":\"7d\",\"dimensions\":[\"event:page\"]}",
    ),
    ("name", "Pages"),
];

/// Every route a stranger can send to, and the owner's and shared links' routes with their
/// credentials, so that their bodies are read too.
const ENDPOINTS: &[Endpoint] = &[
    endpoint("POST", "/api/event", Input::Json(EVENT), Credential::None),
    endpoint("OPTIONS", "/api/event", Input::None, Credential::None),
    endpoint(
        "GET",
        "/api/event.gif",
        Input::Query(&[
            ("d", "example.com"),
            ("p", "/posts/1"),
            ("r", "https://news.example.org/"),
        ]),
        Credential::None,
    ),
    endpoint("GET", "/script.js", Input::None, Credential::None),
    endpoint("GET", "/script.hash.js", Input::None, Credential::None),
    endpoint(
        "GET",
        "/js/",
        Input::Segment("script.hash.outbound-links.js"),
        Credential::None,
    ),
    endpoint(
        "POST",
        "/api/v2/query",
        Input::Json(STATS_QUERY),
        Credential::Bearer,
    ),
    endpoint(
        "GET",
        "/api/v1/stats/realtime/visitors",
        Input::Query(&[("site_id", "example.com")]),
        Credential::Bearer,
    ),
    endpoint(
        "GET",
        "/api/v1/realtime/visitors",
        Input::Query(&[("site_id", "example.com")]),
        Credential::Bearer,
    ),
    endpoint("GET", "/counter.js", Input::None, Credential::None),
    endpoint(
        "GET",
        "/api/counter",
        Input::Query(&[
            ("site", "example.com"),
            ("path", "/posts/1"),
            ("period", "30d"),
        ]),
        Credential::None,
    ),
    endpoint(
        "GET",
        "/api/counter.svg",
        Input::Query(&[
            ("site", "example.com"),
            ("path", "/posts/1"),
            ("metric", "visitors"),
            ("style", "flat-square"),
            ("color", "4c1"),
            ("label", "views"),
        ]),
        Credential::None,
    ),
    endpoint(
        "GET",
        "/api/chart.svg",
        Input::Query(&[
            ("site", "example.com"),
            ("path", "/posts/1"),
            ("period", "30d"),
            ("style", "bars"),
            ("theme", "dark"),
            ("width", "600"),
            ("height", "200"),
        ]),
        Credential::None,
    ),
    endpoint(
        "GET",
        "/api/popular",
        Input::Query(&[("site", "example.com"), ("period", "30d"), ("limit", "10")]),
        Credential::None,
    ),
    endpoint(
        "GET",
        "/api/popular.rss",
        Input::Query(&[("site", "example.com"), ("period", "7d"), ("limit", "5")]),
        Credential::None,
    ),
    endpoint("GET", "/healthz", Input::None, Credential::None),
    endpoint("GET", "/", Input::None, Credential::Session),
    endpoint("GET", "/login", Input::None, Credential::None),
    one_at_a_time(endpoint(
        "POST",
        "/login",
        Input::Form(&[("name", "ann"), ("password", "not the password")]),
        Credential::None,
    )),
    endpoint("POST", "/logout", Input::None, Credential::None),
    endpoint(
        "GET",
        "/setup",
        Input::Query(&[("token", "00")]),
        Credential::None,
    ),
    one_at_a_time(endpoint(
        "POST",
        "/setup",
        Input::Form(&[
            ("token", "00"),
            ("name", "bob"),
            ("password", "a long password"),
        ]),
        Credential::None,
    )),
    endpoint(
        "GET",
        "/share/",
        Input::Segment("{share}"),
        Credential::None,
    ),
    one_at_a_time(endpoint(
        "POST",
        "/share/{share}",
        Input::Form(&[("password", "guess"), ("embed", "true")]),
        Credential::None,
    )),
    endpoint(
        "GET",
        "/assets/",
        Input::Segment("app.js"),
        Credential::None,
    ),
    endpoint("GET", "/settings", Input::None, Credential::Session),
    endpoint("GET", "/api/dashboard/me", Input::None, Credential::Session),
    endpoint(
        "POST",
        "/api/dashboard/query",
        Input::Json(STATS_QUERY),
        Credential::Session,
    ),
    endpoint(
        "POST",
        "/api/dashboard/prop_keys",
        Input::Json(PERIOD_ONLY),
        Credential::Session,
    ),
    endpoint(
        "POST",
        "/api/dashboard/dropped",
        Input::Json(PERIOD_ONLY),
        Credential::Session,
    ),
    endpoint(
        "GET",
        "/api/dashboard/export.csv",
        Input::Query(EXPORT),
        Credential::Session,
    ),
    endpoint(
        "GET",
        "/api/dashboard/settings",
        Input::Query(&[("site", "example.com")]),
        Credential::Session,
    ),
    one_at_a_time(endpoint(
        "POST",
        "/api/dashboard/settings",
        Input::Json(SITE_RULES),
        Credential::Session,
    )),
    one_at_a_time(endpoint(
        "POST",
        "/api/dashboard/settings",
        Input::Json(SITE_ADD),
        Credential::Session,
    )),
    one_at_a_time(endpoint(
        "POST",
        "/api/dashboard/settings",
        Input::Json(GOAL_ADD),
        Credential::Session,
    )),
    one_at_a_time(endpoint(
        "POST",
        "/api/dashboard/settings",
        Input::Json(SHARE_ADD),
        Credential::Session,
    )),
    endpoint("GET", "/api/share/me", Input::None, Credential::Share),
    endpoint(
        "POST",
        "/api/share/query",
        Input::Json(STATS_QUERY),
        Credential::Share,
    ),
    endpoint(
        "POST",
        "/api/share/prop_keys",
        Input::Json(PERIOD_ONLY),
        Credential::Share,
    ),
    endpoint(
        "GET",
        "/api/share/export.csv",
        Input::Query(EXPORT),
        Credential::Share,
    ),
];

/// The credentials made before the flood.
struct Secrets {
    host: String,
    key: String,
    /// `name=value`.
    session: String,
    share: String,
}

// ---------------------------------------------------------------------------------------------
// A request, part by part
// ---------------------------------------------------------------------------------------------

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

enum Body {
    None,
    /// A JSON object as (key, value) pairs, both as JSON text.
    Json(Pairs),
    /// A form as encoded (name, value) pairs.
    Form(Pairs),
    Raw(Vec<u8>),
}

impl Body {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Body::None => Vec::new(),
            Body::Json(fields) => {
                let mut out = b"{".to_vec();
                out.extend(join(fields, b":", b","));
                out.push(b'}');
                out
            }
            Body::Form(fields) => join(fields, b"=", b"&"),
            Body::Raw(bytes) => bytes.clone(),
        }
    }
}

fn join(pairs: &Pairs, inner: &[u8], outer: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.extend(outer);
        }
        out.extend(k);
        out.extend(inner);
        out.extend(v);
    }
    out
}

/// A request before it is written, each part open to spoiling.
struct Draft {
    method: Vec<u8>,
    path: Vec<u8>,
    /// The last path segment, for endpoints that read it.
    segment: Option<Vec<u8>>,
    /// Encoded (name, value) pairs.
    query: Pairs,
    /// The query as written, in place of `query`, when its syntax itself is spoiled.
    raw_query: Option<Vec<u8>>,
    version: Vec<u8>,
    headers: Pairs,
    /// Header lines written as they are, after `headers`.
    raw_lines: Vec<Vec<u8>>,
    body: Body,
    /// Whether a `content-length` of the body is written (off when framing is spoiled).
    content_length: bool,
    line_end: &'static [u8],
    /// Whether the blank line that ends the head (and the body after it) is written.
    end_of_head: bool,
    /// The request line as written, in place of the usual one.
    request_line: Option<Vec<u8>>,
    /// The whole request as written: for bytes that are no HTTP at all.
    raw: Option<Vec<u8>>,
}

impl Draft {
    /// The endpoint's plausible request, with the credential it needs.
    fn new(endpoint: &Endpoint, secrets: &Secrets) -> Draft {
        let share = |text: &str| text.replace("{share}", &secrets.share).into_bytes();
        let mut headers: Pairs = vec![
            (b"host".to_vec(), secrets.host.clone().into_bytes()),
            (b"connection".to_vec(), b"close".to_vec()),
            (b"user-agent".to_vec(), FIREFOX.as_bytes().to_vec()),
            (b"accept".to_vec(), b"*/*".to_vec()),
        ];
        match endpoint.credential {
            Credential::None => {}
            Credential::Bearer => headers.push((
                b"authorization".to_vec(),
                format!("Bearer {}", secrets.key).into_bytes(),
            )),
            Credential::Session => {
                headers.push((b"cookie".to_vec(), secrets.session.clone().into_bytes()))
            }
            Credential::Share => headers.push((
                b"x-footfall-share".to_vec(),
                secrets.share.clone().into_bytes(),
            )),
        }
        let pairs = |fields: &[(&str, &str)], encode: bool| -> Pairs {
            fields
                .iter()
                .map(|(k, v)| {
                    let v = share(v);
                    (k.as_bytes().to_vec(), if encode { percent(&v) } else { v })
                })
                .collect()
        };
        let (mut segment, mut query, mut body) = (None, Vec::new(), Body::None);
        match endpoint.input {
            Input::None => {}
            Input::Json(fields) => {
                headers.push((b"content-type".to_vec(), b"application/json".to_vec()));
                body = Body::Json(
                    fields
                        .iter()
                        .map(|(k, v)| (quoted(k.as_bytes()), v.as_bytes().to_vec()))
                        .collect(),
                );
            }
            Input::Form(fields) => {
                headers.push((
                    b"content-type".to_vec(),
                    b"application/x-www-form-urlencoded".to_vec(),
                ));
                body = Body::Form(pairs(fields, true));
            }
            Input::Query(fields) => query = pairs(fields, true),
            Input::Segment(text) => segment = Some(share(text)),
        }
        Draft {
            method: endpoint.method.as_bytes().to_vec(),
            path: share(endpoint.path),
            segment,
            query,
            raw_query: None,
            version: b"HTTP/1.1".to_vec(),
            headers,
            raw_lines: Vec::new(),
            body,
            content_length: true,
            line_end: b"\r\n",
            end_of_head: true,
            request_line: None,
            raw: None,
        }
    }

    /// The request target: path, segment and query.
    fn target(&self) -> Vec<u8> {
        let mut out = self.path.clone();
        if let Some(segment) = &self.segment {
            out.extend(segment);
        }
        let query = match &self.raw_query {
            Some(raw) => Some(raw.clone()),
            None if self.query.is_empty() => None,
            None => Some(join(&self.query, b"=", b"&")),
        };
        if let Some(query) = query {
            out.push(b'?');
            out.extend(query);
        }
        out
    }

    fn write(&self) -> Vec<u8> {
        if let Some(raw) = &self.raw {
            return raw.clone();
        }
        let mut out = self.request_line.clone().unwrap_or_else(|| {
            let mut line = self.method.clone();
            line.push(b' ');
            line.extend(self.target());
            if !self.version.is_empty() {
                line.push(b' ');
                line.extend(&self.version);
            }
            line
        });
        out.extend(self.line_end);
        for (name, value) in &self.headers {
            out.extend(name);
            out.extend(b": ");
            out.extend(value);
            out.extend(self.line_end);
        }
        for line in &self.raw_lines {
            out.extend(line);
            out.extend(self.line_end);
        }
        let body = self.body.bytes();
        if self.content_length {
            out.extend(format!("content-length: {}", body.len()).as_bytes());
            out.extend(self.line_end);
        }
        if self.end_of_head {
            out.extend(self.line_end);
            out.extend(body);
        }
        out
    }

    /// Sets a header, in place of any of that name.
    fn set_header(&mut self, name: &[u8], value: Vec<u8>) {
        self.remove_header(name);
        self.headers.push((name.to_vec(), value));
    }

    fn remove_header(&mut self, name: &[u8]) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Sends the body in chunks, without a length.
    fn chunked(&mut self) {
        let body = self.body.bytes();
        let mut out = Vec::new();
        for chunk in body.chunks(16 * 1024) {
            out.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend(chunk);
            out.extend(b"\r\n");
        }
        out.extend(b"0\r\n\r\n");
        self.body = Body::Raw(out);
        self.content_length = false;
        self.set_header(b"transfer-encoding", b"chunked".to_vec());
    }
}

/// A generated request and what is known of it.
struct Case {
    index: usize,
    category: Category,
    endpoint: usize,
    bytes: Vec<u8>,
    /// Malformed at the HTTP level: the HTTP parser may refuse it without a reason.
    http_level: bool,
    /// The request is incomplete (it promises more than it sends): the write side is closed
    /// after it, so that the server sees the end rather than waiting. Never set for a complete
    /// request: hyper drops a connection whose client half-closes while its request is being
    /// answered, which would look like a refusal.
    half_close: bool,
    /// A HEAD request: the answer has no body, only its length.
    head: bool,
}

fn percent(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b);
        } else {
            out.extend(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

fn quoted(text: &[u8]) -> Vec<u8> {
    let mut out = b"\"".to_vec();
    out.extend(text);
    out.push(b'"');
    out
}

fn repeat(text: &str, times: usize) -> Vec<u8> {
    text.repeat(times).into_bytes()
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    items.choose(rng).expect("a non-empty list")
}

// ---------------------------------------------------------------------------------------------
// Spoiling
// ---------------------------------------------------------------------------------------------

/// Case `index` of the corpus made from `seed`: a category in turn, an endpoint at random.
fn generate(seed: u64, index: usize, secrets: &Secrets) -> Case {
    let mut rng =
        StdRng::seed_from_u64(seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let category = Category::ALL[index % Category::ALL.len()];
    let endpoint = rng.random_range(0..ENDPOINTS.len());
    let mut draft = Draft::new(&ENDPOINTS[endpoint], secrets);
    let mut case = Case {
        index,
        category,
        endpoint,
        bytes: Vec::new(),
        http_level: false,
        half_close: false,
        head: false,
    };
    let rng = &mut rng;
    let d = &mut draft;
    match category {
        Category::TruncatedUtf8 => {
            let bad = Bad::bytes(rng, TRUNCATED);
            inject(rng, d, &mut case, &bad);
        }
        Category::OverlongUtf8 => {
            let bad = Bad::bytes(rng, OVERLONG);
            inject(rng, d, &mut case, &bad);
        }
        Category::NulBytes => {
            let bad = Bad::bytes(rng, NUL);
            inject(rng, d, &mut case, &bad);
        }
        Category::LoneSurrogates => {
            let bad = Bad::surrogate(rng);
            inject(rng, d, &mut case, &bad);
        }
        Category::DeepNesting => nest(rng, d),
        Category::HugeNumbers => huge_number(rng, d),
        Category::DuplicateKeys => duplicate(rng, d, &mut case),
        Category::ContentTypes => content_type(rng, d, &mut case),
        Category::EmptyBodies => empty(rng, d),
        Category::WrongMethods => wrong_method(rng, &ENDPOINTS[endpoint], d, &mut case),
        Category::OversizedHeaders => oversized_headers(rng, d, &mut case),
        Category::OversizedBodies => oversized_body(rng, d),
        Category::PathTraversal => traversal(rng, d),
        Category::BrokenSyntax => broken_syntax(rng, d),
        Category::BrokenFraming => broken_framing(rng, d, &mut case),
    }
    case.bytes = draft.write();
    if head_length(&case.bytes) > LONG_HEAD {
        case.http_level = true;
    }
    case
}

/// A request line and headers longer than this (browsers send a few KiB) may be refused by the
/// HTTP parser for their size: 414 for a long target, 431 for long headers.
const LONG_HEAD: usize = 16 * 1024;

fn head_length(request: &[u8]) -> usize {
    request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(request.len())
}

const TRUNCATED: &[&[u8]] = &[
    b"\xE2\x82",
    b"\xF0\x9F\x98",
    b"\xC3",
    b"caf\xC3",
    b"\xF0\x9F",
    b"\x80",
    b"\xBF\xBF\xBF",
    b"\xF4\x8F\xBF",
    b"\xE2\x82\xE2\x82\xAC",
];
const OVERLONG: &[&[u8]] = &[
    b"\xC0\xAF",
    b"\xC0\xAE\xC0\xAE\xC0\xAF",
    b"\xE0\x80\xAF",
    b"\xF0\x80\x80\xAF",
    b"\xC1\xBF",
    b"\xC0\x80",
    b"\xF8\x88\x80\x80\x80",
    b"\xFC\x84\x80\x80\x80\x80",
    b"\xFF\xFE",
    b"\xF4\x90\x80\x80",
];
const NUL: &[&[u8]] = &[
    b"\0",
    b"a\0b",
    b"\0\0\0\0",
    b"/posts/1\0.html",
    b"example.com\0.evil",
    b"\0\xFF",
];
/// Lone surrogates as raw CESU-8 bytes and as JSON escapes.
const SURROGATES: &[(&[u8], &str)] = &[
    (b"\xED\xA0\x80", "\\ud800"),
    (b"\xED\xBF\xBF", "\\udfff"),
    (b"\xED\xA0\x80A", "\\ud800\\u0041"),
    (b"\xED\xB0\x80\xED\xA0\x80", "\\udc00\\ud800"),
    (b"\xED\xA0\xBD", "\\ud83d"),
    (b"x\xED\xA0\x80y", "x\\ud800y"),
    (b"\xED\xA0\x80\xED\xA0\x80", "\\ud800\\ud800"),
];

/// A bad value in the three spellings a request can carry it in.
struct Bad {
    raw: Vec<u8>,
    /// Inside a JSON string.
    json: Vec<u8>,
    /// Percent-encoded, for a URL or a form.
    url: Vec<u8>,
}

impl Bad {
    fn bytes(rng: &mut StdRng, list: &[&[u8]]) -> Bad {
        let raw = pick(rng, list).to_vec();
        // Control bytes raw (invalid JSON) or escaped (valid JSON, so the value reaches the
        // validators).
        let json = if rng.random_bool(0.5) {
            raw.clone()
        } else {
            raw.iter()
                .flat_map(|&b| {
                    if b < 0x20 {
                        format!("\\u{b:04x}").into_bytes()
                    } else {
                        vec![b]
                    }
                })
                .collect()
        };
        Bad {
            url: percent(&raw),
            json,
            raw,
        }
    }

    fn surrogate(rng: &mut StdRng) -> Bad {
        let (raw, json) = *pick(rng, SURROGATES);
        Bad {
            raw: raw.to_vec(),
            json: json.as_bytes().to_vec(),
            url: percent(raw),
        }
    }
}

/// Headers every endpoint reads or might: a bad value in any of them must not hurt.
const HEADERS: &[&str] = &[
    "user-agent",
    "referer",
    "cookie",
    "authorization",
    "x-forwarded-for",
    "forwarded",
    "origin",
    "accept-language",
    "if-none-match",
    "x-footfall-share",
    "sec-fetch-site",
    "dnt",
    "host",
];

/// Puts `bad` into the endpoint's own input mostly, else into a header.
fn inject(rng: &mut StdRng, draft: &mut Draft, case: &mut Case, bad: &Bad) {
    if rng.random_bool(0.2) {
        return into_header(rng, draft, case, &bad.raw);
    }
    if let Body::Json(fields) = &mut draft.body {
        return into_json(rng, fields, &bad.json);
    }
    if let Body::Form(fields) = &mut draft.body {
        let field = rng.random_range(0..fields.len());
        let value = if rng.random_bool(0.7) {
            &bad.url
        } else {
            &bad.raw
        };
        return fields[field].1.extend(value);
    }
    if let Some(segment) = &mut draft.segment {
        if rng.random_bool(0.1) {
            case.http_level = true;
            return segment.extend(&bad.raw);
        }
        return segment.extend(&bad.url);
    }
    if !draft.query.is_empty() {
        let param = rng.random_range(0..draft.query.len());
        if rng.random_bool(0.1) {
            case.http_level = true;
            return draft.query[param].1.extend(&bad.raw);
        }
        if rng.random_bool(0.3) {
            draft.query[param].1 = bad.url.clone();
        } else {
            draft.query[param].1.extend(&bad.url);
        }
        return;
    }
    into_header(rng, draft, case, &bad.raw)
}

fn into_header(rng: &mut StdRng, draft: &mut Draft, case: &mut Case, raw: &[u8]) {
    let name = pick(rng, HEADERS).as_bytes();
    let mut value = if rng.random_bool(0.5) {
        b"text".to_vec()
    } else {
        Vec::new()
    };
    value.extend(raw);
    // Control bytes (but tab) are not allowed in a header value: the parser's to refuse.
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7F) {
        case.http_level = true;
    }
    draft.set_header(name, value);
}

fn into_json(rng: &mut StdRng, fields: &mut Pairs, bad: &[u8]) {
    let field = rng.random_range(0..fields.len());
    match rng.random_range(0..5) {
        // Appended to a string value (or in place of another value).
        0 => {
            let value = &mut fields[field].1;
            if value.len() >= 2 && value.starts_with(b"\"") && value.ends_with(b"\"") {
                value.pop();
                value.extend(bad);
                value.push(b'"');
            } else {
                *value = quoted(bad);
            }
        }
        1 => fields[field].1 = quoted(bad),
        2 => fields.push((quoted(bad), b"\"x\"".to_vec())),
        3 => {
            let mut props = b"{".to_vec();
            props.extend(quoted(bad));
            props.push(b':');
            props.extend(quoted(bad));
            props.push(b'}');
            fields.push((b"\"p\"".to_vec(), props));
        }
        _ => {
            let mut filters = b"[[\"is\",\"event:page\",[".to_vec();
            filters.extend(quoted(bad));
            filters.extend(b"]]]");
            fields.push((b"\"filters\"".to_vec(), filters));
        }
    }
}

/// Arrays, objects or both, `depth` deep, closed or not.
fn nested(rng: &mut StdRng, depth: usize) -> Vec<u8> {
    let (open, close) = *pick(
        rng,
        &[
            ("[", "]"),
            ("{\"a\":", "}"),
            ("[{\"a\":", "}]"),
            ("{\"p\":[", "]}"),
        ],
    );
    let mut out = repeat(open, depth);
    out.push(b'1');
    if rng.random_bool(0.8) {
        out.extend(repeat(close, depth));
    }
    out
}

fn nest(rng: &mut StdRng, draft: &mut Draft) {
    const DEPTHS: &[usize] = &[64, 127, 128, 129, 500, 1_000, 3_000, 10_000, 100_000];
    let depth = *pick(rng, DEPTHS);
    // A URL or a header holds at most 10,000 levels: beyond, the head is refused for its size.
    let short = depth.min(10_000);
    match &mut draft.body {
        Body::Json(fields) => match rng.random_range(0..3) {
            0 => draft.body = Body::Raw(nested(rng, depth)),
            1 => {
                let field = rng.random_range(0..fields.len());
                fields[field].1 = nested(rng, depth);
            }
            _ => fields.push((b"\"p\"".to_vec(), nested(rng, depth))),
        },
        Body::Form(fields) => {
            let field = rng.random_range(0..fields.len());
            fields[field].1 = percent(&nested(rng, short));
        }
        _ if !draft.query.is_empty() => {
            let param = rng.random_range(0..draft.query.len());
            draft.query[param].1 = percent(&nested(rng, short));
        }
        _ => {
            if let Some(segment) = &mut draft.segment {
                *segment = percent(&nested(rng, short.min(3_000)));
            } else {
                draft.set_header(b"cookie", nested(rng, short));
            }
        }
    }
}

const NUMBERS: &[&str] = &[
    "1e999999",
    "-1e999999",
    "1e-999999",
    "1E400",
    "18446744073709551616",
    "-9223372036854775809",
    "340282366920938463463374607431768211456",
    "1.7976931348623157e309",
    "-0",
    "4e-324",
    "123456789012345678901234567890.5e-7",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x10",
    "+1",
    ".5",
    "01",
    "1_000",
];
/// Dates past what a calendar type holds, where a date is asked for.
const DATES: &[&str] = &[
    "+275760-09-13",
    "99999999-12-31",
    "-99999-01-01",
    "2024-13-45",
    "0000-00-00",
    "2024-02-30",
    "1e999999",
];

/// A number no field expects: beyond every integer and float type, or not a number at all.
fn huge(rng: &mut StdRng) -> String {
    match rng.random_range(0..4) {
        0 => "9".repeat(400),
        1 => {
            let digits: String = (0..400)
                .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                .collect();
            format!("-{digits}")
        }
        2 => format!("0.{}1", "0".repeat(400)),
        _ => pick(rng, NUMBERS).to_string(),
    }
}

fn huge_number(rng: &mut StdRng, draft: &mut Draft) {
    let number = if rng.random_bool(0.05) {
        "7".repeat(10_000)
    } else {
        huge(rng)
    };
    match &mut draft.body {
        Body::Json(fields) => match rng.random_range(0..4) {
            0 => {
                let field = rng.random_range(0..fields.len());
                fields[field].1 = number.into_bytes();
            }
            1 => {
                let key = *pick(rng, &["sd", "e", "h", "i", "limit", "offset", "n", "d"]);
                fields.push((quoted(key.as_bytes()), number.into_bytes()));
            }
            2 => fields.push((
                b"\"pagination\"".to_vec(),
                format!("{{\"limit\":{number},\"offset\":{}}}", huge(rng)).into_bytes(),
            )),
            _ => {
                let (from, to) = (pick(rng, DATES), pick(rng, DATES));
                fields.push((
                    b"\"date_range\"".to_vec(),
                    format!("[\"{from}\",\"{to}\"]").into_bytes(),
                ));
            }
        },
        Body::Form(fields) => {
            let field = rng.random_range(0..fields.len());
            fields[field].1 = percent(number.as_bytes());
        }
        _ => {
            if let Some(segment) = &mut draft.segment {
                *segment = percent(number.as_bytes());
            } else if !draft.query.is_empty() && rng.random_bool(0.7) {
                let param = rng.random_range(0..draft.query.len());
                draft.query[param].1 = percent(number.as_bytes());
            } else {
                for key in ["limit", "width", "height", "period", "v"] {
                    draft
                        .query
                        .push((key.as_bytes().to_vec(), percent(number.as_bytes())));
                }
            }
        }
    }
}

/// The same key twice or more: in the JSON, the form, the query or the headers.
fn duplicate(rng: &mut StdRng, draft: &mut Draft, case: &mut Case) {
    if rng.random_bool(0.25) {
        return duplicate_header(rng, draft, case);
    }
    let times = *pick(rng, &[2, 2, 2, 10, 101, 300, 1_000]);
    match &mut draft.body {
        Body::Json(fields) => {
            let field = rng.random_range(0..fields.len());
            let key = fields[field].0.clone();
            if rng.random_bool(0.2) {
                fields.push((
                    b"\"p\"".to_vec(),
                    b"{\"a\":\"1\",\"a\":\"2\",\"a\":{\"a\":1,\"a\":2}}".to_vec(),
                ));
                return;
            }
            for _ in 1..times {
                let other = pick(
                    rng,
                    &[
                        "null",
                        "1e999",
                        "{}",
                        "[\"x\"]",
                        "\"\"",
                        "\"pageview\"",
                        "\"other.example\"",
                        "true",
                    ],
                );
                let position = rng.random_range(0..=fields.len());
                fields.insert(position, (key.clone(), other.as_bytes().to_vec()));
            }
        }
        Body::Form(fields) => {
            let field = rng.random_range(0..fields.len());
            let (name, _) = fields[field].clone();
            for i in 1..times {
                fields.push((name.clone(), format!("other{i}").into_bytes()));
            }
        }
        _ if !draft.query.is_empty() => {
            let param = rng.random_range(0..draft.query.len());
            let name = draft.query[param].0.clone();
            for i in 1..times {
                let value = pick(rng, &["", "..%2F", "example.org", "%00", "/posts/2"]);
                let value = if *value == "/posts/2" {
                    format!("/posts/{i}")
                } else {
                    value.to_string()
                };
                draft.query.push((name.clone(), value.into_bytes()));
            }
        }
        _ => duplicate_header(rng, draft, case),
    }
}

fn duplicate_header(rng: &mut StdRng, draft: &mut Draft, case: &mut Case) {
    let (name, values): (&str, &[&str]) = *pick(
        rng,
        &[
            ("host", &["127.0.0.1", "evil.example"][..]),
            ("content-type", &["application/json", "text/plain"][..]),
            (
                "authorization",
                &["Bearer ff_nothing", "Basic Zm9vOmJhcg=="][..],
            ),
            ("cookie", &["a=1", "footfall_session=00"][..]),
            ("x-footfall-share", &["00", "11"][..]),
            ("x-forwarded-for", &["203.0.113.9", "not an address"][..]),
            ("user-agent", &[FIREFOX, "curl/8.0"][..]),
        ],
    );
    if rng.random_bool(0.2) {
        // Two lengths: the parser's to refuse when they differ.
        let length = draft.body.bytes().len();
        let other = if rng.random_bool(0.5) {
            length
        } else {
            length + 1
        };
        draft.content_length = false;
        draft
            .raw_lines
            .push(format!("content-length: {length}").into_bytes());
        draft
            .raw_lines
            .push(format!("content-length: {other}").into_bytes());
        case.http_level = other != length;
        return;
    }
    for value in values {
        draft
            .headers
            .push((name.as_bytes().to_vec(), value.as_bytes().to_vec()));
    }
}

const WRONG_TYPES: &[&str] = &[
    "text/xml",
    "application/xml",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "application/x-www-form-urlencoded",
    "application/json",
    "application/json; charset=ebcdic",
    "text/plain; charset=\u{FFFD}",
    "*/*",
    "",
    "application/jsonx",
    ";;;",
    "application/json, text/plain",
    "image/gif",
];

fn content_type(rng: &mut StdRng, draft: &mut Draft, case: &mut Case) {
    if matches!(draft.body, Body::None) {
        // A body where none is read, labelled or not.
        draft.body = Body::Raw(b"{\"site\":\"example.com\",\"n\":\"pageview\"}".to_vec());
        if rng.random_bool(0.7) {
            draft.set_header(b"content-type", pick(rng, WRONG_TYPES).as_bytes().to_vec());
        }
        return;
    }
    match rng.random_range(0..6) {
        0 => draft.remove_header(b"content-type"),
        1 => {
            draft.set_header(
                b"content-type",
                b"application/json; charset=utf-16".to_vec(),
            );
            let utf16: Vec<u8> = String::from_utf8_lossy(&draft.body.bytes())
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect();
            draft.body = Body::Raw(utf16);
        }
        2 => {
            let mut long = b"application/json; x=".to_vec();
            long.extend(repeat("a", 10_000));
            draft.set_header(b"content-type", long);
        }
        3 => {
            case.http_level = true;
            draft.set_header(b"content-type", b"application/json\0".to_vec());
        }
        _ => draft.set_header(b"content-type", pick(rng, WRONG_TYPES).as_bytes().to_vec()),
    }
}

fn empty(rng: &mut StdRng, draft: &mut Draft) {
    if !matches!(draft.body, Body::None) {
        draft.body = Body::Raw(
            pick(rng, &["", "", "", " ", "\r\n", "\t"])
                .as_bytes()
                .to_vec(),
        );
        // No content-length at all is an empty body too.
        draft.content_length = rng.random_bool(0.6);
        if rng.random_bool(0.3) {
            draft.remove_header(b"content-type");
        }
        return;
    }
    if let Some(segment) = &mut draft.segment {
        segment.clear();
        return;
    }
    if !draft.query.is_empty() {
        match rng.random_range(0..4) {
            0 => draft.query.clear(),
            1 => draft.raw_query = Some(Vec::new()),
            2 => draft.query.iter_mut().for_each(|(_, v)| v.clear()),
            _ => {
                let names: Vec<Vec<u8>> = draft.query.iter().map(|(k, _)| k.clone()).collect();
                draft.raw_query = Some(names.join(&b'&'));
            }
        }
        return;
    }
    // Nothing to leave out but the headers.
    draft.headers.retain(|(name, _)| name == b"connection");
}

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT", "FOO", "get",
    "post", "PROPFIND", "M-SEARCH", "QUERY", "PRI",
];

fn wrong_method(rng: &mut StdRng, endpoint: &Endpoint, draft: &mut Draft, case: &mut Case) {
    let method = loop {
        let method = if rng.random_bool(0.03) {
            "A".repeat(rng.random_range(16..2_000))
        } else {
            pick(rng, METHODS).to_string()
        };
        if method != endpoint.method {
            break method;
        }
    };
    // CONNECT wants an authority for a target, and PRI starts HTTP/2's preface: the parser's.
    case.http_level = method == "CONNECT" || method == "PRI";
    case.head = method == "HEAD";
    draft.method = method.into_bytes();
}

fn oversized_headers(rng: &mut StdRng, draft: &mut Draft, case: &mut Case) {
    const SIZES: &[usize] = &[8_192, 16_384, 65_536, 100_000, 200_000, 1_000_000];
    match rng.random_range(0..5) {
        0 => {
            let name = pick(rng, HEADERS).as_bytes();
            let size = *pick(rng, SIZES);
            let unit = *pick(rng, &["a", "k=v; ", "203.0.113.7, ", "\"etag\", "]);
            draft.set_header(name, repeat(unit, size / unit.len()));
        }
        1 => {
            let count = *pick(rng, &[64, 99, 100, 101, 500, 1_000, 5_000]);
            // Past 100 headers in all, hyper refuses the request (431).
            case.http_level = count + draft.headers.len() > 90;
            for i in 0..count {
                draft.raw_lines.push(format!("x-h{i}: {i}").into_bytes());
            }
        }
        2 => {
            let name = repeat("x", *pick(rng, &[1_000, 10_000, 100_000]));
            draft.headers.push((name, b"1".to_vec()));
        }
        3 => {
            let size = *pick(rng, SIZES);
            draft.query.push((b"pad".to_vec(), repeat("a", size)));
        }
        _ => {
            let pairs = *pick(rng, &[1_000, 5_000, 20_000]);
            let cookie: Vec<u8> = (0..pairs)
                .flat_map(|i| format!("c{i}=v; ").into_bytes())
                .collect();
            draft.set_header(b"cookie", cookie);
        }
    }
}

fn oversized_body(rng: &mut StdRng, draft: &mut Draft) {
    // The event limit (8 kB) and axum's default (2 MB), each just past and well past.
    let size = if rng.random_bool(0.08) {
        *pick(rng, &[2 * 1024 * 1024 + 1, 3 * 1024 * 1024])
    } else {
        *pick(rng, &[8 * 1024 + 1, 16 * 1024, 65_536, 1024 * 1024])
    };
    match &mut draft.body {
        Body::Json(fields) if rng.random_bool(0.7) => {
            let field = rng.random_range(0..fields.len());
            fields[field].1 = quoted(&repeat("a", size));
        }
        Body::Form(fields) => {
            let field = rng.random_range(0..fields.len());
            fields[field].1 = repeat("a", size);
        }
        _ => {
            draft.body = Body::Raw((0..size).map(|_| rng.random::<u8>()).collect());
        }
    }
    if rng.random_bool(0.3) {
        draft.chunked();
    }
}

/// Traversal, already written as it goes in a URL (percent-encoded where it needs to be).
const TRAVERSALS: &[&str] = &[
    "../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "..%5c..%5cwindows%5cwin.ini",
    "%c0%ae%c0%ae%c0%afetc%c0%afpasswd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "....//....//etc/passwd",
    "/./././posts/1",
    "//evil.example/posts",
    "/posts/1/../../../drafts/secret",
    "/drafts/../drafts/secret",
    "/drafts%2fsecret",
    "/%64rafts/secret",
    "/DRAFTS/secret",
    "/drafts/secret%00.html",
    "%00/../../etc/passwd",
    "file:///etc/passwd",
    "https://example.com/../../etc/passwd",
    "%5c%5cserver%5cshare",
    "/..;/..;/etc/passwd",
    "/posts/1%2f..%2f..%2f..%2f",
];

fn traversal(rng: &mut StdRng, draft: &mut Draft) {
    let mut text = pick(rng, TRAVERSALS).as_bytes().to_vec();
    if rng.random_bool(0.03) {
        text = repeat("../", 30_000);
    }
    match &mut draft.body {
        Body::Json(fields) => {
            let value = if rng.random_bool(0.5) {
                let mut url = b"https://example.com/".to_vec();
                url.extend(&text);
                url
            } else {
                text
            };
            let key = *pick(rng, &["\"u\"", "\"site_id\"", "\"d\"", "\"r\""]);
            fields.retain(|(k, _)| k != key.as_bytes());
            fields.push((key.as_bytes().to_vec(), quoted(&value)));
        }
        Body::Form(fields) => {
            let field = rng.random_range(0..fields.len());
            fields[field].1 = text;
        }
        _ => {
            if let Some(segment) = &mut draft.segment {
                *segment = text;
            } else if !draft.query.is_empty() {
                let at = draft
                    .query
                    .iter()
                    .position(|(k, _)| k == b"path" || k == b"p" || k == b"token")
                    .unwrap_or_else(|| rng.random_range(0..draft.query.len()));
                draft.query[at].1 = text;
            } else if rng.random_bool(0.5) {
                let mut path = b"/".to_vec();
                path.extend(&text);
                path.extend(&draft.path);
                draft.path = path;
            } else {
                draft.path.push(b'/');
                draft.path.extend(&text);
            }
        }
    }
}

const BROKEN_QUERIES: &[&str] = &[
    "%",
    "%zz",
    "site=%",
    "&&&=&",
    "site=example.com&&&path",
    "site==example.com",
    "site%3Dexample.com",
    ";site=example.com",
    "site[]=example.com",
    "site=example.com&path=%E",
    "=",
    "&",
    "site=%2",
    "site=%%%",
    "site=example.com;path=/x",
    "site_id=%zz&q=%7B",
    "q=%7B%22site_id%22:",
    "token=%",
];
const BROKEN_FORMS: &[&str] = &[
    "%",
    "%zz",
    "name=%E",
    "&&&",
    "===",
    "name",
    "name=a=b&password",
    "+%2B+=+",
    "name=ann&name",
    "%00=%00",
    "password=%ZZ&embed=%",
];

fn broken_syntax(rng: &mut StdRng, draft: &mut Draft) {
    match &mut draft.body {
        Body::Json(fields) => {
            if rng.random_bool(0.3) {
                let field = rng.random_range(0..fields.len());
                let wrong = pick(
                    rng,
                    &[
                        "[]",
                        "{}",
                        "null",
                        "true",
                        "1",
                        "\"\"",
                        "[[]]",
                        "[null]",
                        "{\"\":{}}",
                    ],
                );
                fields[field].1 = wrong.as_bytes().to_vec();
                return;
            }
            draft.body = Body::Raw(broken_json(rng, &draft.body.bytes()));
        }
        Body::Form(_) => {
            draft.body = Body::Raw(pick(rng, BROKEN_FORMS).as_bytes().to_vec());
        }
        _ => {
            if let Some(segment) = &mut draft.segment {
                *segment = pick(rng, &["%", "%zz", "%%", "%2", "%E2%82", "%u002e"])
                    .as_bytes()
                    .to_vec();
            } else {
                draft.raw_query = Some(pick(rng, BROKEN_QUERIES).as_bytes().to_vec());
            }
        }
    }
}

/// A valid JSON object, broken in one of the ways clients and attackers break JSON.
fn broken_json(rng: &mut StdRng, valid: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(valid).into_owned();
    match rng.random_range(0..8) {
        0 => valid[..rng.random_range(1..valid.len())].to_vec(),
        1 => {
            let mut out = valid.to_vec();
            out.extend(
                pick(
                    rng,
                    &["}", "]", ",", "x", "{}", " {\"n\":1}", "\0", "\u{FEFF}"],
                )
                .as_bytes(),
            );
            out
        }
        2 => pick(
            rng,
            &[
                "[]",
                "null",
                "\"pageview\"",
                "1",
                "true",
                "[{\"n\":\"pageview\"}]",
                "{",
                "}",
            ],
        )
        .as_bytes()
        .to_vec(),
        3 => format!("\u{FEFF}{text}").into_bytes(),
        4 => text.replace('"', "'").into_bytes(),
        5 => format!("/* comment */{}", text.replacen('}', ",}", 1)).into_bytes(),
        6 => {
            let escape = pick(
                rng,
                &["\\x41", "\\u12", "\\uZZZZ", "\\", "a\tb", "a\nb", "\\u{41}"],
            );
            text.replacen("example.com", &format!("example.com{escape}"), 1)
                .into_bytes()
        }
        _ => text
            .replacen(
                "\"example.com\"",
                pick::<&str>(rng, &["NaN", "Infinity", "undefined", "example.com"]),
                1,
            )
            .into_bytes(),
    }
}

fn broken_framing(rng: &mut StdRng, draft: &mut Draft, case: &mut Case) {
    case.http_level = true;
    match rng.random_range(0..11) {
        0 => {
            let value = pick(
                rng,
                &[
                    "abc",
                    "-1",
                    "1e3",
                    "",
                    "+5",
                    "0x10",
                    "99999999999999999999999",
                    "5, 6",
                    "\u{FF11}",
                ],
            );
            draft.content_length = false;
            draft
                .raw_lines
                .push(format!("content-length: {value}").into_bytes());
        }
        1 => {
            // More promised than sent; the server must give up when the client does.
            let length = draft.body.bytes().len() + rng.random_range(1..10_000);
            draft.content_length = false;
            draft
                .raw_lines
                .push(format!("content-length: {length}").into_bytes());
            case.half_close = true;
        }
        2 => {
            // Less promised than sent: the rest is a second request.
            let body = draft.body.bytes();
            draft.content_length = false;
            draft
                .raw_lines
                .push(format!("content-length: {}", body.len() / 2).into_bytes());
        }
        3 => {
            draft.content_length = false;
            draft.set_header(b"transfer-encoding", b"chunked".to_vec());
            let body = pick(
                rng,
                &[
                    "zz\r\nabc\r\n0\r\n\r\n",
                    "fffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
                    "5\r\nab\r\n0\r\n\r\n",
                    "3;\u{1}ext\r\nabc\r\n0\r\n\r\n",
                    "3\r\nabc0\r\n\r\n",
                    "-1\r\nabc\r\n0\r\n\r\n",
                    "0x3\r\nabc\r\n0\r\n\r\n",
                    "3\r\nabc\r\n",
                    "",
                    "3\nabc\n0\n\n",
                ],
            );
            draft.body = Body::Raw(body.as_bytes().to_vec());
            case.half_close = true;
        }
        4 => {
            let te = pick(
                rng,
                &[
                    "gzip, chunked",
                    "chunked, gzip",
                    "xchunked",
                    "identity",
                    "chunked, chunked",
                ],
            );
            draft.set_header(b"transfer-encoding", te.as_bytes().to_vec());
            if rng.random_bool(0.5) {
                draft.content_length = false;
            }
            case.half_close = true;
        }
        5 => {
            draft.version = pick(
                rng,
                &[
                    "HTTP/2.0",
                    "HTTP/1.2",
                    "HTTP/9.9",
                    "http/1.1",
                    "HTTP/1",
                    "HTTP/1.1.1",
                    "HTTP/01.1",
                    "HTTPS/1.1",
                    "HTTP/1.0",
                    "",
                ],
            )
            .as_bytes()
            .to_vec();
        }
        6 => {
            let target = String::from_utf8_lossy(&draft.target()).into_owned();
            let line = match rng.random_range(0..8) {
                0 => "GET".to_owned(),
                1 => format!("GET {target} HTTP/1.1 extra"),
                2 => format!("GET  {target}  HTTP/1.1"),
                3 => format!("GET\t{target}\tHTTP/1.1"),
                4 => format!("\r\n\r\nGET {target} HTTP/1.1"),
                5 => format!("GET http://example.com{target} HTTP/1.1"),
                6 => "OPTIONS * HTTP/1.1".to_owned(),
                _ => "GET example.com:80 HTTP/1.1".to_owned(),
            };
            draft.request_line = Some(line.into_bytes());
        }
        7 => {
            let line: &[u8] = pick::<&[u8]>(
                rng,
                &[
                    &b"Host example.com"[..],
                    b" folded: continuation",
                    b"Host : example.com",
                    b"X\x80Y: 1",
                    b"X(y): 1",
                    b": no name",
                    b"x-a: a\rb",
                    b"x-a:\x001",
                ],
            );
            draft.raw_lines.push(line.to_vec());
        }
        8 => {
            draft.line_end = b"\n";
        }
        9 => {
            // The head never ends.
            draft.end_of_head = false;
            case.half_close = true;
        }
        _ => {
            let raw: Vec<u8> = match rng.random_range(0..5) {
                0 => b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\ngarbage".to_vec(),
                // The start of a TLS ClientHello.
                1 => b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
                2 => (0..rng.random_range(1..2_048))
                    .map(|_| rng.random::<u8>())
                    .collect(),
                3 => Vec::new(),
                _ => b"\r\n".to_vec(),
            };
            draft.raw = Some(raw);
            case.half_close = true;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sending and judging
// ---------------------------------------------------------------------------------------------

/// What came back: the bytes read, and why reading stopped if not at the end.
struct Reply {
    bytes: Vec<u8>,
    problem: Option<String>,
    timed_out: bool,
}

/// One request on a connection of its own.
async fn exchange(addr: &str, case: &Case) -> Reply {
    let work = async {
        let mut stream = match TcpStream::connect(addr).await {
            Ok(stream) => stream,
            Err(e) => return (Vec::new(), Some(format!("connect: {e}"))),
        };
        // The server may answer (a 413, say) and close before it has read everything: a failed
        // write is not the end, the answer may be there to read.
        let write_problem = stream.write_all(&case.bytes).await.err();
        if case.half_close {
            let _ = stream.shutdown().await;
        }
        let mut bytes = Vec::new();
        let read_problem = stream.read_to_end(&mut bytes).await.err();
        let problem = read_problem
            .map(|e| format!("read: {e}"))
            .or(write_problem.map(|e| format!("write: {e}")));
        (bytes, problem)
    };
    match tokio::time::timeout(EXCHANGE_LIMIT, work).await {
        Ok((bytes, problem)) => Reply {
            bytes,
            problem,
            timed_out: false,
        },
        Err(_) => Reply {
            bytes: Vec::new(),
            problem: Some(format!("no answer within {EXCHANGE_LIMIT:?}")),
            timed_out: true,
        },
    }
}

/// An HTTP/1 answer, its interim (1xx) answers skipped.
struct Answer {
    status: u16,
    content_type: bool,
    content_length: Option<usize>,
    body: Vec<u8>,
}

fn parse_answer(bytes: &[u8], head_request: bool) -> Option<Answer> {
    let mut rest = bytes;
    loop {
        let end = rest.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        let after = &rest[end + 4..];
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()?
            .strip_prefix("HTTP/1.")?
            .get(2..5)?
            .parse()
            .ok()?;
        if (100..200).contains(&status) {
            rest = after;
            continue;
        }
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let content_length = header("content-length").and_then(|v| v.parse().ok());
        let body = if head_request || status == 204 || status == 304 {
            Vec::new()
        } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            dechunk(after)
        } else {
            after[..content_length.unwrap_or(after.len()).min(after.len())].to_vec()
        };
        return Some(Answer {
            status,
            content_type: header("content-type").is_some(),
            content_length,
            body,
        });
    }
}

fn dechunk(mut bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = bytes.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&bytes[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok());
        let Some(size) = size.filter(|&n| n > 0) else {
            break;
        };
        let start = line_end + 2;
        let end = (start + size).min(bytes.len());
        out.extend(&bytes[start..end]);
        bytes = &bytes[(end + 2).min(bytes.len())..];
    }
    out
}

/// Statuses hyper answers a request it cannot parse with (its own, without a body).
const PARSER_STATUSES: &[u16] = &[400, 414, 431, 505];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// 2xx or 3xx: an odd request that is still a valid question.
    Answered,
    /// 4xx with a body that says why.
    Refused,
    /// Refused by the HTTP parser before any route saw it: a bodiless 400/414/431/505, or the
    /// connection closed, for a request malformed at the HTTP level.
    ParserRefused,
    ServerError,
    /// A 4xx with nothing to say why.
    NoReason,
    /// No HTTP answer to a request that was valid HTTP, or no answer in time.
    NoAnswer,
}

const OUTCOMES: [Outcome; 6] = [
    Outcome::Answered,
    Outcome::Refused,
    Outcome::ParserRefused,
    Outcome::ServerError,
    Outcome::NoReason,
    Outcome::NoAnswer,
];

impl Outcome {
    fn failed(self) -> bool {
        matches!(
            self,
            Outcome::ServerError | Outcome::NoReason | Outcome::NoAnswer
        )
    }
}

/// A reason: a body with words in it (for JSON errors, in the `error` text); for HEAD, where no
/// body is sent, a length that says GET would carry one.
fn has_reason(answer: &Answer, head_request: bool) -> bool {
    if head_request {
        return answer.content_length.is_some_and(|n| n > 0);
    }
    let words = |text: &[u8]| text.iter().any(u8::is_ascii_alphabetic);
    match serde_json::from_slice::<serde_json::Value>(&answer.body) {
        Ok(serde_json::Value::Object(object)) if object.contains_key("error") => object["error"]
            .as_str()
            .is_some_and(|e| words(e.as_bytes())),
        _ => words(&answer.body),
    }
}

fn judge(case: &Case, reply: &Reply) -> (Outcome, Option<u16>) {
    if reply.timed_out {
        return (Outcome::NoAnswer, None);
    }
    let Some(answer) = parse_answer(&reply.bytes, case.head) else {
        let outcome = if case.http_level {
            Outcome::ParserRefused
        } else {
            Outcome::NoAnswer
        };
        return (outcome, None);
    };
    let outcome = match answer.status {
        500.. => Outcome::ServerError,
        ..400 => Outcome::Answered,
        _ if has_reason(&answer, case.head) => Outcome::Refused,
        status
            if case.http_level
                && !answer.content_type
                && answer.body.is_empty()
                && PARSER_STATUSES.contains(&status) =>
        {
            Outcome::ParserRefused
        }
        _ => Outcome::NoReason,
    };
    (outcome, Some(answer.status))
}

/// The outcomes, per category, status and endpoint, and the first failures in full.
#[derive(Default)]
struct Results {
    by_category: BTreeMap<Category, [u64; OUTCOMES.len()]>,
    statuses: BTreeMap<String, u64>,
    by_endpoint: BTreeMap<usize, u64>,
    failures: u64,
    /// Each kind of failure (outcome, status, category): how many, and the first in full.
    failure_kinds: BTreeMap<String, (u64, String)>,
    /// The longest exchange, and its case.
    slowest: (Duration, usize),
}

impl Results {
    fn record(&mut self, case: &Case, reply: &Reply, outcome: Outcome, status: Option<u16>) {
        let slot = OUTCOMES.iter().position(|o| *o == outcome).expect("listed");
        self.by_category.entry(case.category).or_default()[slot] += 1;
        let status = status.map_or_else(|| "closed".to_owned(), |s| s.to_string());
        *self.statuses.entry(status.clone()).or_default() += 1;
        *self.by_endpoint.entry(case.endpoint).or_default() += 1;
        if outcome.failed() {
            self.failures += 1;
            let kind = format!("{outcome:?} {status} in {}", case.category.name());
            self.failure_kinds
                .entry(kind)
                .or_insert_with(|| (0, describe(case, reply, outcome, &status)))
                .0 += 1;
        }
    }

    /// The kinds of failure, most frequent first, each with its first case.
    fn failures_shown(&self) -> String {
        let mut kinds: Vec<_> = self.failure_kinds.iter().collect();
        kinds.sort_by_key(|(_, (n, _))| std::cmp::Reverse(*n));
        kinds
            .iter()
            .take(FAILURES_SHOWN)
            .map(|(kind, (n, first))| format!("{n} × {kind}, first: {first}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn total(&self, outcome: Outcome) -> u64 {
        let slot = OUTCOMES.iter().position(|o| *o == outcome).expect("listed");
        self.by_category.values().map(|row| row[slot]).sum()
    }

    fn table(&self) -> String {
        let mut out = format!(
            "{:<28} {:>8} {:>8} {:>11} {:>9} {:>5} {:>9} {:>9}\n",
            "category", "sent", "2xx/3xx", "4xx+reason", "parser", "5xx", "4xx bare", "no answer"
        );
        let mut totals = [0u64; OUTCOMES.len()];
        for (category, row) in &self.by_category {
            out.push_str(&row_line(category.name(), row));
            for (total, n) in totals.iter_mut().zip(row) {
                *total += n;
            }
        }
        out.push_str(&row_line("total", &totals));
        out
    }
}

fn row_line(name: &str, row: &[u64; OUTCOMES.len()]) -> String {
    format!(
        "{:<28} {:>8} {:>8} {:>11} {:>9} {:>5} {:>9} {:>9}\n",
        name,
        row.iter().sum::<u64>(),
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5]
    )
}

fn describe(case: &Case, reply: &Reply, outcome: Outcome, status: &str) -> String {
    let shown = |bytes: &[u8], n: usize| {
        let end = bytes.len().min(n);
        format!("{}", bytes[..end].escape_ascii())
    };
    format!(
        "#{} {} → {} ({outcome:?}, status {status}{}): request {:?}…; answer {:?}",
        case.index,
        case.category.name(),
        ENDPOINTS[case.endpoint].label(),
        reply
            .problem
            .as_deref()
            .map(|p| format!(", {p}"))
            .unwrap_or_default(),
        shown(&case.bytes, 300),
        shown(&reply.bytes, 400),
    )
}

/// Sends `count` cases on [`CONNECTIONS`] connections at once.
async fn flood(addr: String, seed: u64, count: usize, secrets: Arc<Secrets>) -> Results {
    let next = Arc::new(AtomicUsize::new(0));
    let serial = Arc::new(tokio::sync::Mutex::new(()));
    let results = Arc::new(Mutex::new(Results::default()));
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (next, serial, results, secrets, addr) = (
            next.clone(),
            serial.clone(),
            results.clone(),
            secrets.clone(),
            addr.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    break;
                }
                let case = generate(seed, index, &secrets);
                let _one_at_a_time = if ENDPOINTS[case.endpoint].serial {
                    Some(serial.lock().await)
                } else {
                    None
                };
                let sent = Instant::now();
                let reply = exchange(&addr, &case).await;
                let took = sent.elapsed();
                let (outcome, status) = judge(&case, &reply);
                let mut results = results.lock().unwrap();
                results.record(&case, &reply, outcome, status);
                results.slowest = results.slowest.max((took, case.index));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    Arc::try_unwrap(results)
        .ok()
        .expect("every task is done")
        .into_inner()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The drill
// ---------------------------------------------------------------------------------------------

fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text} is not a number")),
        Err(_) => default,
    }
}

/// A key, an owner's session, a shared link, and a few events so that reads find rows.
async fn prepare(server: &Server) -> Secrets {
    let key = stats_key(server, "example.com");
    let share = add_share(server, "example.com", &[]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let session = owner_session(&http, server, "ann", "a long password").await;
    for path in ["/", "/posts/1", "/posts/2", "/drafts/secret"] {
        let url = format!("https://example.com{path}");
        pageview(&http, server, &url, "81.2.69.10", FIREFOX).await;
    }
    Secrets {
        host: server.base.trim_start_matches("http://").to_owned(),
        key,
        session,
        share,
    }
}

/// A failure named by its index comes back with the same seed: each case depends on (seed,
/// index) alone.
#[test]
fn the_same_seed_makes_the_same_corpus() {
    let secrets = Secrets {
        host: "127.0.0.1:1".into(),
        key: "ff_key".into(),
        session: "footfall_session=00".into(),
        share: "00".repeat(32),
    };
    let corpus = |seed: u64| -> Vec<Vec<u8>> {
        (0..300)
            .map(|index| generate(seed, index, &secrets).bytes)
            .collect()
    };
    assert_eq!(corpus(5), corpus(5));
    assert_ne!(corpus(5), corpus(6));
    // In any order.
    assert_eq!(generate(5, 299, &secrets).bytes, corpus(5)[299]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_4xx_with_reasons_and_never_a_5xx_or_a_panic() {
    let count = setting("FOOTFALL_MALFORMED", SUITE_REQUESTS) as usize;
    let seed = setting("FOOTFALL_MALFORMED_SEED", SUITE_SEED);
    let server = Server::start_in(tempfile::tempdir().unwrap(), CONFIG, NO_RATE_LIMITS);
    let secrets = Arc::new(prepare(&server).await);
    let addr = secrets.host.clone();

    let started = Instant::now();
    let results = flood(addr, seed, count, secrets).await;
    let took = started.elapsed();

    println!(
        "{count} malformed requests (seed {seed}) in {:.1} s ({:.0}/s), {CONNECTIONS} connections at once",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64()
    );
    println!("{}", results.table());
    println!("statuses: {:?}", results.statuses);
    let (slowest, index) = results.slowest;
    println!(
        "slowest exchange: {:.0} ms (#{index})",
        slowest.as_secs_f64() * 1000.0
    );

    if count >= 1_000 {
        for (i, endpoint) in ENDPOINTS.iter().enumerate() {
            assert!(
                results.by_endpoint.get(&i).is_some_and(|&n| n > 0),
                "no request reached {}",
                endpoint.label()
            );
        }
    }
    assert_eq!(
        results.by_category.len(),
        Category::ALL.len().min(count),
        "every category is sent"
    );
    assert!(
        results.failures == 0,
        "{} of {count} requests failed (seed {seed}): {} 5xx, {} 4xx without a reason, {} \
         without an answer; by kind:\n{}",
        results.failures,
        results.total(Outcome::ServerError),
        results.total(Outcome::NoReason),
        results.total(Outcome::NoAnswer),
        results.failures_shown()
    );
    assert!(
        results.total(Outcome::Answered) + results.total(Outcome::Refused) > 0,
        "nothing reached the routes"
    );

    let health = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "{}",
        health.text().await.unwrap()
    );
    // After the stop, so that the writer has enriched and stored every odd event it took.
    let (_, logs) = server.stop();
    assert!(
        !logs.contains("panicked"),
        "the server panicked:\n{}",
        logs.lines()
            .filter(|l| l.contains("panicked"))
            .take(10)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
