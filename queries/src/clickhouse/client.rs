//! A small blocking HTTP client for one ClickHouse server.
//!
//! Blocking, because the store's work already runs on its own threads (the writer's committer),
//! never on the async runtime. HTTP, because it is the one interface that is the same on 18.16
//! and current servers, and the one `scripts/clickhouse.sh` tests. One statement per request:
//! 18.16's HTTP interface takes no more.
//!
//! Every request carries `max_execution_time` and a fresh `query_id`: an HTTP query whose client
//! gave up keeps running on 18.16 (docs/clickhouse.md, pitfall 10), so the server must stop it
//! by itself, and an operator must be able to find and `KILL QUERY` it by id.

use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::Serialize;

/// Where a server is and who we are to it.
#[derive(Clone)]
pub struct ClickHouseConfig {
    /// `http://host:8123` or `https://host:8443`: whether that is loopback, a private network or
    /// TLS to a remote server is the deployment's choice; the client speaks both.
    pub url: String,
    pub user: String,
    pub password: String,
    /// The server stops a statement past this (`max_execution_time`). The client waits a little
    /// longer, so that the server's own error, which names the query, is what comes back.
    pub max_execution_time: Duration,
}

impl std::fmt::Debug for ClickHouseConfig {
    // Not derived: the password stays out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseConfig")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("max_execution_time", &self.max_execution_time)
            .finish_non_exhaustive()
    }
}

impl ClickHouseConfig {
    /// The package's `default` user without a password, as on the test servers.
    pub fn new(url: impl Into<String>) -> Self {
        ClickHouseConfig {
            url: url.into(),
            user: "default".to_owned(),
            password: String::new(),
            max_execution_time: Duration::from_secs(60),
        }
    }
}

/// What can go wrong talking to ClickHouse. Callers branch on `Connection` (the server is down
/// or unreachable: worth retrying) against `Status` (it answered with an error).
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    #[error("cannot reach ClickHouse at {url}: {source}")]
    Connection {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    /// The server refused the statement; `message` is its `Code: N, e.displayText() = …`.
    #[error("ClickHouse at {url} answered {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("cannot read ClickHouse's answer from {url}: {reason}")]
    Decode { url: String, reason: String },
    /// A table or column name that is not a plain identifier: names are never escaped, only
    /// checked, because only the code chooses them.
    #[error("not a plain ClickHouse identifier: {0:?}")]
    Name(String),
    #[error("no ClickHouse shards configured")]
    NoShards,
    #[error("schema file {file}, statement {index}: {source}")]
    Schema {
        file: &'static str,
        index: usize,
        #[source]
        source: Box<ClickHouseError>,
    },
}

/// The longest statement a read may send, in bytes (`max_query_size`).
const MAX_QUERY_SIZE: &str = "16777216";

impl ClickHouseError {
    /// Whether the cluster is (partly) unreachable, which passes, rather than a statement it
    /// refused: the server itself does not answer, or it answered that it could not reach
    /// another shard (codes 279 ALL_CONNECTION_TRIES_FAILED, 210 NETWORK_ERROR, 209
    /// SOCKET_TIMEOUT).
    pub fn is_outage(&self) -> bool {
        match self {
            ClickHouseError::Connection { .. } => true,
            ClickHouseError::Status { message, .. } => {
                matches!(error_code(message), Some(279 | 210 | 209))
            }
            _ => false,
        }
    }
}

/// The code of a ClickHouse error message: `Code: 279, e.displayText() = …` (18.16) or
/// `Code: 279. DB::Exception: …` (current servers).
fn error_code(message: &str) -> Option<u32> {
    let digits: String = message
        .strip_prefix("Code: ")?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// How much of an error body is kept: ClickHouse's message is a line or two, and a stack trace
/// is of no use to the caller.
const MAX_ERROR_BODY: u64 = 16 * 1024;
/// Extra time the client waits beyond `max_execution_time` before it gives up itself.
const CLIENT_GRACE: Duration = Duration::from_secs(10);
/// Time to open a connection: a server that takes longer is treated as down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One server. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    url: String,
    authorization: String,
    max_execution_secs: String,
}

impl std::fmt::Debug for Client {
    // Not derived: the authorization header holds the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("url", &self.url).finish()
    }
}

impl Client {
    pub fn new(config: &ClickHouseConfig) -> Self {
        let agent = ureq::Agent::config_builder()
            // ClickHouse's error bodies are wanted, not just the status.
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(config.max_execution_time + CLIENT_GRACE))
            .build()
            .into();
        // Basic authentication, which 18.16 and current servers both take; URL parameters
        // would put the password in proxies' logs.
        let credentials = format!("{}:{}", config.user, config.password);
        Client {
            agent,
            url: config.url.trim_end_matches('/').to_owned(),
            authorization: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ),
            // Whole seconds: 18.16 takes no fractions here; at least 1, since 0 means no limit.
            max_execution_secs: config.max_execution_time.as_secs().max(1).to_string(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs one statement that returns nothing of interest (DDL, `INSERT … SELECT`, `SET` has
    /// no effect over HTTP).
    pub fn execute(&self, sql: &str) -> Result<(), ClickHouseError> {
        let response = self.send(&[], sql.as_bytes())?;
        drop(response);
        Ok(())
    }

    /// Runs one `SELECT` (without a FORMAT clause, without a trailing `;`) and returns its rows,
    /// one JSON object each. 64-bit integers come as JSON numbers, not 18.16's default quoted
    /// strings. Statements may be long: the Stats API's carry their values as literals and
    /// repeat a relation wherever it is read (18.16 has no CTEs), past the default 256 KiB.
    pub fn query_json_rows(&self, sql: &str) -> Result<Vec<serde_json::Value>, ClickHouseError> {
        let statement = format!("{sql}\nFORMAT JSONEachRow");
        let body = self.send(
            &[
                ("output_format_json_quote_64bit_integers", "0"),
                ("max_query_size", MAX_QUERY_SIZE),
            ],
            statement.as_bytes(),
        )?;
        let mut rows = Vec::new();
        for line in BufReader::new(body).lines() {
            let line = line.map_err(|e| self.decode(e.to_string()))?;
            if line.trim().is_empty() {
                continue;
            }
            // An error after the status line was sent comes as plain text in the body.
            let row = serde_json::from_str(&line)
                .map_err(|e| self.decode(format!("{e} in {:?}", truncate(&line))))?;
            rows.push(row);
        }
        Ok(rows)
    }

    /// Inserts `rows` into `table` as one block (one request, so one atomic insert into a
    /// MergeTree table), naming `columns`: 18.16 fills a column that a row leaves out with 0
    /// rather than its DEFAULT unless the column list leaves it out too (pitfall 3), so the
    /// list must be exactly the fields each row has. Empty `rows` send nothing.
    pub fn insert_json_rows<T: Serialize>(
        &self,
        table: &str,
        columns: &[&str],
        rows: &[T],
    ) -> Result<(), ClickHouseError> {
        if rows.is_empty() {
            return Ok(());
        }
        for name in std::iter::once(&table).chain(columns) {
            if !is_identifier(name) {
                return Err(ClickHouseError::Name((*name).to_owned()));
            }
        }
        let mut body = Vec::with_capacity(rows.len() * 256);
        for row in rows {
            serde_json::to_writer(&mut body, row)
                .map_err(|e| self.decode(format!("a row does not serialize: {e}")))?;
            body.push(b'\n');
        }
        let statement = insert_statement(table, columns);
        let response = self.send(&[("query", &statement)], &body)?;
        drop(response);
        Ok(())
    }

    /// POSTs `body` with the standard settings plus `params`, and returns the body of a 200
    /// answer.
    fn send(
        &self,
        params: &[(&str, &str)],
        body: &[u8],
    ) -> Result<impl std::io::Read, ClickHouseError> {
        let mut request = self
            .agent
            .post(&self.url)
            .header("Authorization", &self.authorization)
            .query("query_id", next_query_id())
            .query("max_execution_time", &self.max_execution_secs);
        for (key, value) in params {
            request = request.query(*key, *value);
        }
        let response = request
            .send(body)
            .map_err(|source| ClickHouseError::Connection {
                url: self.url.clone(),
                source: Box::new(source),
            })?;
        let status = response.status().as_u16();
        let body = response.into_body();
        if status != 200 {
            let message = body
                .into_with_config()
                .limit(MAX_ERROR_BODY)
                .lossy_utf8(true)
                .read_to_string()
                .unwrap_or_else(|e| format!("(the error body could not be read: {e})"));
            return Err(ClickHouseError::Status {
                url: self.url.clone(),
                status,
                message: message.trim().to_owned(),
            });
        }
        Ok(body.into_reader())
    }

    fn decode(&self, reason: String) -> ClickHouseError {
        ClickHouseError::Decode {
            url: self.url.clone(),
            reason,
        }
    }
}

/// `INSERT INTO table (a, b) FORMAT JSONEachRow`: names only, each checked by the caller to be a
/// plain identifier; the rows travel in the body, never in SQL text.
fn insert_statement(table: &str, columns: &[&str]) -> String {
    format!(
        "INSERT INTO {table} ({}) FORMAT JSONEachRow",
        columns.join(", ")
    )
}

/// Letters, digits, `_`, and `.` between parts (`footfall.events_local`, `props.key`).
fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            !part.is_empty()
                && !part.starts_with(|c: char| c.is_ascii_digit())
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// Unique per process and over restarts: the process id, the start of the process's clock, and
/// a counter. A reused id of a query still running is refused by the server.
fn next_query_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static STARTED: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    let started = STARTED.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("footfall-{}-{started:x}-{n}", std::process::id())
}

fn truncate(text: &str) -> &str {
    match text.char_indices().nth(200) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_shard_is_an_outage_in_either_servers_words() {
        let status = |message: &str| ClickHouseError::Status {
            url: "http://127.0.0.1:8123".into(),
            status: 500,
            message: message.into(),
        };
        assert!(status(
            "Code: 279, e.displayText() = DB::NetException: All connection tries failed"
        )
        .is_outage());
        assert!(status("Code: 279. DB::NetException: All connection tries failed. (ALL_CONNECTION_TRIES_FAILED)").is_outage());
        assert!(!status("Code: 62, e.displayText() = DB::Exception: Syntax error").is_outage());
        assert!(!status("Code: 2790, something else").is_outage());
        assert!(!ClickHouseError::NoShards.is_outage());
    }

    #[test]
    fn identifiers_are_plain_names() {
        for good in [
            "events",
            "footfall.events_local",
            "props.key",
            "utm_source",
            "a1",
        ] {
            assert!(is_identifier(good), "{good}");
        }
        for bad in [
            "",
            "a b",
            "x;",
            "1a",
            "a.",
            ".a",
            "a..b",
            "t) FORMAT TSV --",
            "`x`",
            "é",
        ] {
            assert!(!is_identifier(bad), "{bad:?}");
        }
    }

    #[test]
    fn insert_names_its_columns() {
        assert_eq!(
            insert_statement("footfall.events_local", &["site", "props.key"]),
            "INSERT INTO footfall.events_local (site, props.key) FORMAT JSONEachRow"
        );
    }

    #[test]
    fn query_ids_differ() {
        let a = next_query_id();
        let b = next_query_id();
        assert_ne!(a, b);
        assert!(a.starts_with("footfall-"));
    }

    #[test]
    fn an_unreachable_server_is_a_connection_error() {
        // Port 9 (discard) on loopback: nothing listens there on a test machine.
        let mut config = ClickHouseConfig::new("http://127.0.0.1:9");
        config.max_execution_time = Duration::from_secs(2);
        let error = Client::new(&config).execute("SELECT 1").unwrap_err();
        assert!(
            matches!(error, ClickHouseError::Connection { .. }),
            "{error}"
        );
    }

    #[test]
    fn debug_hides_the_password() {
        let mut config = ClickHouseConfig::new("http://127.0.0.1:8123/");
        config.password = "hunter2".to_owned();
        let client = Client::new(&config);
        let shown = format!("{client:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("aHVudGVyMg"));
        assert_eq!(client.url(), "http://127.0.0.1:8123");
    }
}
