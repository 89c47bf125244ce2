//! Configuration: built-in defaults, then the TOML file, then `FOOTFALL_*` environment variables,
//! then command-line flags; validated once at start into [`Settings`], with a message that names
//! the key at fault. `footfall.example.toml` documents every key.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use footfall_collector::sites::{compile_globs, PublicCounters, SiteSettings};
use footfall_collector::{CollectorSettings, SiteDomain};
use footfall_queries::clickhouse::ClickHouseConfig;
use footfall_queries::stats::Goal;
use footfall_queries::{StoreOptions, WriterSettings};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::client_ip::{ClientIpHeader, ClientIpPolicy};
use crate::rate_limit::{Rate, RateLimits};
use crate::server::ConnectionSettings;

/// The file as written. Every field has a default, so an empty file (or none) is valid.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    /// Empty: `<data_dir>/footfall.duckdb`.
    pub database: String,
    pub trusted_proxies: Vec<String>,
    pub client_ip_header: String,
    pub geoip: Vec<PathBuf>,
    pub log: String,
    pub public_url: String,
    pub collector: CollectorConfig,
    pub writer: WriterConfig,
    pub store: StoreConfig,
    pub clickhouse: ClickHouseSection,
    pub api: ApiConfig,
    pub rate_limits: RateLimitsConfig,
    pub connections: ConnectionsConfig,
    pub sites: Vec<SiteConfig>,
}

/// `[clickhouse]`: where the events go when `store.backend = "clickhouse"`. Its `Debug` leaves
/// the password out.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClickHouseSection {
    /// Each shard's HTTP URL, every shard of the cluster once.
    pub shards: Vec<String>,
    pub user: String,
    pub password: String,
    pub query_timeout_seconds: u32,
    /// The writer's batches for ClickHouse, which wants about one insert a second per table
    /// with thousands of rows each, where DuckDB wants small frequent commits.
    pub batch_rows: usize,
    pub flush_interval_ms: u64,
    /// How often the public counters read the last days again from ClickHouse, where other
    /// collectors' events are (0: never, for a single collector).
    pub counters_refresh_seconds: u32,
}

impl std::fmt::Debug for ClickHouseSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseSection")
            .field("shards", &self.shards)
            .field("user", &self.user)
            .field("query_timeout_seconds", &self.query_timeout_seconds)
            .field("batch_rows", &self.batch_rows)
            .field("flush_interval_ms", &self.flush_interval_ms)
            .field("counters_refresh_seconds", &self.counters_refresh_seconds)
            .finish_non_exhaustive()
    }
}

impl Default for ClickHouseSection {
    fn default() -> Self {
        ClickHouseSection {
            shards: Vec::new(),
            user: "default".into(),
            password: String::new(),
            query_timeout_seconds: 60,
            batch_rows: 30_000,
            flush_interval_ms: 1_000,
            counters_refresh_seconds: 60,
        }
    }
}

/// Per client address; see [`RateLimits`] for the defaults and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitsConfig {
    pub events_per_second: u32,
    pub events_burst: u32,
    pub reads_per_second: u32,
    pub reads_burst: u32,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        let d = RateLimits::default();
        RateLimitsConfig {
            events_per_second: d.events.per_second,
            events_burst: d.events.burst,
            reads_per_second: d.reads.per_second,
            reads_burst: d.reads.burst,
        }
    }
}

/// See [`ConnectionSettings`] for the defaults and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionsConfig {
    pub limit: u32,
    pub header_timeout_seconds: u32,
    pub proxy_idle_timeout_seconds: u32,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        let d = ConnectionSettings::default();
        ConnectionsConfig {
            limit: d.limit,
            header_timeout_seconds: d.header_timeout.as_secs() as u32,
            proxy_idle_timeout_seconds: d.proxy_idle_timeout.as_secs() as u32,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    pub requests_per_hour: u32,
    pub public_max_age_seconds: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            requests_per_hour: 600,
            public_max_age_seconds: 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectorConfig {
    pub max_body_bytes: usize,
    pub session_timeout_minutes: u32,
    pub repeat_pageview_limit: u32,
    pub user_agent_cache: u64,
    pub spam_referrers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriterConfig {
    pub queue_capacity: usize,
    pub batch_rows: usize,
    pub flush_interval_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Where events are kept: `duckdb` (the data directory's file) or `clickhouse`.
    pub backend: String,
    pub memory_limit: String,
    pub threads: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub domain: String,
    #[serde(default = "utc")]
    pub timezone: String,
    #[serde(default)]
    pub exclude_paths: Vec<String>,
    #[serde(default)]
    pub exclude_ips: Vec<String>,
    #[serde(default)]
    pub respect_dnt: bool,
    #[serde(default)]
    pub goals: Vec<GoalConfig>,
    #[serde(default)]
    pub public_counters: bool,
    #[serde(default)]
    pub counter_exclude: Vec<String>,
    #[serde(default = "default_min_visitors")]
    pub counter_min_visitors: u32,
}

fn default_min_visitors() -> u32 {
    PublicCounters::default().min_visitors
}

/// A goal as the file writes it: `{ page = "/path" }` or `{ event = "Name" }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalConfig {
    pub page: Option<String>,
    pub event: Option<String>,
}

fn utc() -> String {
    "UTC".into()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8800".into(),
            data_dir: "footfall-data".into(),
            database: String::new(),
            trusted_proxies: Vec::new(),
            client_ip_header: "auto".into(),
            geoip: Vec::new(),
            log: "info".into(),
            public_url: String::new(),
            collector: CollectorConfig::default(),
            writer: WriterConfig::default(),
            store: StoreConfig::default(),
            clickhouse: ClickHouseSection::default(),
            api: ApiConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            connections: ConnectionsConfig::default(),
            sites: Vec::new(),
        }
    }
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            max_body_bytes: 8 * 1024,
            session_timeout_minutes: 30,
            repeat_pageview_limit: 20,
            user_agent_cache: 10_000,
            spam_referrers: Vec::new(),
        }
    }
}

impl Default for WriterConfig {
    fn default() -> Self {
        let d = WriterSettings::default();
        WriterConfig {
            queue_capacity: d.queue_capacity,
            batch_rows: d.batch_rows,
            flush_interval_ms: d.flush_interval.as_millis() as u64,
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        let d = StoreOptions::default();
        StoreConfig {
            backend: "duckdb".into(),
            memory_limit: d.memory_limit,
            threads: d.threads,
        }
    }
}

/// The validated configuration the program runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database: PathBuf,
    pub client_ip: ClientIpPolicy,
    pub geoip: Vec<PathBuf>,
    pub log: String,
    /// Where owners reach the server (`https://stats.example.com`), without a trailing slash;
    /// empty when not configured. An https URL makes the session cookie `Secure`.
    pub public_url: String,
    pub max_body_bytes: usize,
    pub collector: CollectorSettings,
    pub writer: WriterSettings,
    pub store: StoreOptions,
    /// Where events are written and read.
    pub events: EventsBackend,
    /// `[clickhouse]`'s servers, whatever the backend (for `footfall migrate`).
    pub clickhouse: Vec<ClickHouseConfig>,
    /// How often the public counters read the recent days again from the store: on ClickHouse,
    /// which other collectors write to as well; `None` where this server is the only writer.
    pub counters_refresh: Option<Duration>,
    /// Stats API requests each key may make per hour.
    pub api_requests_per_hour: u32,
    /// How long browsers and proxies may keep a public count (`Cache-Control: max-age`).
    pub public_max_age_seconds: u32,
    /// Requests each client address may make of the public endpoints.
    pub rate_limits: RateLimits,
    /// How many connections, and how long a connection may take to send a request or sit idle.
    pub connections: ConnectionSettings,
    /// Sites declared in the file.
    pub sites: Vec<SiteSettings>,
    /// The goals the file declares, per site domain (others are in the store).
    pub goals: HashMap<String, Vec<Goal>>,
}

/// Where events are written and read. The small tables (sites, keys, owners, goals, shared
/// links) are in the data directory's DuckDB file either way.
#[derive(Debug, Clone)]
pub enum EventsBackend {
    DuckDb,
    /// One server per shard, in the order the writer splits batches by (`session_id % shards`).
    ClickHouse(Vec<ClickHouseConfig>),
}

/// A configuration that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// What the command line says, which wins over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
}

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "footfall.toml";
const ENV_PREFIX: &str = "FOOTFALL_";

/// Loads and validates the configuration; `env` is the process environment (a parameter, so
/// tests need not touch the real one). Returns the settings and the names of ignored variables.
pub fn load(
    overrides: &Overrides,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(Settings, Vec<String>), ConfigError> {
    let env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    let file = overrides
        .config
        .clone()
        .or_else(|| {
            env.iter()
                .find(|(k, _)| k == "FOOTFALL_CONFIG")
                .map(|(_, v)| PathBuf::from(v))
        })
        .or_else(|| {
            Path::new(DEFAULT_CONFIG_FILE)
                .exists()
                .then(|| DEFAULT_CONFIG_FILE.into())
        });

    let mut tree = toml::Table::try_from(Config::default()).expect("defaults serialize");
    if let Some(path) = &file {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let from_file: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
        merge(&mut tree, from_file);
    }
    let ignored = apply_env(&mut tree, &env)?;
    let mut config: Config =
        toml::Value::Table(tree)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                path: file.clone().unwrap_or_else(|| "(defaults)".into()),
                message: e.message().to_owned(),
            })?;
    if let Some(listen) = &overrides.listen {
        config.listen = listen.clone();
    }
    if let Some(dir) = &overrides.data_dir {
        config.data_dir = dir.clone();
    }
    Ok((config.validate()?, ignored))
}

/// Tables merge key by key; anything else is replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// `FOOTFALL_LISTEN` sets `listen`, `FOOTFALL_WRITER__FLUSH_INTERVAL_MS` sets
/// `writer.flush_interval_ms`. The value is read as the key's type; lists are comma-separated.
/// Variables that name no key are returned (the caller logs them) rather than refused, since
/// other tools may use the prefix too.
fn apply_env(tree: &mut toml::Table, env: &[(String, String)]) -> Result<Vec<String>, ConfigError> {
    let mut ignored = Vec::new();
    for (var, raw) in env {
        if var == "FOOTFALL_CONFIG" {
            continue;
        }
        let path: Vec<String> = var[ENV_PREFIX.len()..]
            .to_lowercase()
            .split("__")
            .map(str::to_owned)
            .collect();
        let Some((last, parents)) = path.split_last() else {
            continue;
        };
        let Some(table) = subtable(tree, parents) else {
            ignored.push(var.clone());
            continue;
        };
        let Some(current) = table.get(last) else {
            ignored.push(var.clone());
            continue;
        };
        let env_err = |message: &str| ConfigError::Env {
            var: var.clone(),
            message: message.to_owned(),
        };
        let value = match current {
            toml::Value::String(_) => toml::Value::String(raw.clone()),
            toml::Value::Integer(_) => toml::Value::Integer(
                raw.trim()
                    .parse()
                    .map_err(|_| env_err("must be a whole number"))?,
            ),
            toml::Value::Boolean(_) => {
                toml::Value::Boolean(match raw.trim().to_lowercase().as_str() {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    _ => return Err(env_err("must be true or false")),
                })
            }
            toml::Value::Array(_) => toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.to_owned()))
                    .collect(),
            ),
            _ => return Err(env_err("this setting can only be set in the config file")),
        };
        table.insert(last.clone(), value);
    }
    Ok(ignored)
}

/// The table at `path` below `tree`, if every step is a table.
fn subtable<'t>(tree: &'t mut toml::Table, path: &[String]) -> Option<&'t mut toml::Table> {
    match path.split_first() {
        None => Some(tree),
        Some((first, rest)) => match tree.get_mut(first) {
            Some(toml::Value::Table(t)) => subtable(t, rest),
            _ => None,
        },
    }
}

impl Config {
    fn validate(self) -> Result<Settings, ConfigError> {
        let listen = self.listen.parse::<SocketAddr>().map_err(|_| {
            invalid(
                "listen",
                format!(
                    "{:?} is not an address and port such as 127.0.0.1:8800",
                    self.listen
                ),
            )
        })?;
        let public_url = self.public_url.trim_end_matches('/').to_owned();
        let url_ok = public_url.is_empty()
            || ((public_url.starts_with("https://") || public_url.starts_with("http://"))
                && !public_url.contains(char::is_whitespace)
                && public_url.matches('/').count() == 2);
        if !url_ok {
            return Err(invalid(
                "public_url",
                format!(
                    "{:?} is not an origin such as https://stats.example.com (scheme and host, no path)",
                    self.public_url
                ),
            ));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }
        let database = if self.database.is_empty() {
            self.data_dir.join("footfall.duckdb")
        } else {
            PathBuf::from(&self.database)
        };
        let trusted = self
            .trusted_proxies
            .iter()
            .map(|p| {
                parse_net(p).ok_or_else(|| {
                    invalid(
                        "trusted_proxies",
                        format!("{p:?} is not an IP address or CIDR network"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let header = ClientIpHeader::parse(&self.client_ip_header).ok_or_else(|| {
            invalid(
                "client_ip_header",
                format!(
                    "{:?} is not one of auto, x-forwarded-for, forwarded, x-real-ip, cf-connecting-ip",
                    self.client_ip_header
                ),
            )
        })?;
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log) {
            return Err(invalid(
                "log",
                format!("{:?} is not a log filter: {e}", self.log),
            ));
        }

        let c = &self.collector;
        check_range(
            "collector.max_body_bytes",
            c.max_body_bytes as u64,
            256,
            1 << 20,
        )?;
        check_range(
            "collector.session_timeout_minutes",
            c.session_timeout_minutes.into(),
            1,
            24 * 60,
        )?;
        check_range(
            "collector.user_agent_cache",
            c.user_agent_cache,
            0,
            10_000_000,
        )?;
        let w = &self.writer;
        check_range(
            "writer.queue_capacity",
            w.queue_capacity as u64,
            1,
            10_000_000,
        )?;
        check_range("writer.batch_rows", w.batch_rows as u64, 1, 1_000_000)?;
        // A flush interval past a few seconds would break the 10-second shutdown promise.
        check_range("writer.flush_interval_ms", w.flush_interval_ms, 1, 5_000)?;
        check_range("store.threads", self.store.threads.into(), 1, 256)?;
        let clickhouse = self.clickhouse_servers()?;
        let events = self.events_backend(&clickhouse)?;
        check_range(
            "clickhouse.counters_refresh_seconds",
            self.clickhouse.counters_refresh_seconds.into(),
            0,
            86_400,
        )?;
        let counters_refresh = match (&events, self.clickhouse.counters_refresh_seconds) {
            (EventsBackend::ClickHouse(_), seconds) if seconds > 0 => {
                Some(Duration::from_secs(seconds.into()))
            }
            _ => None,
        };
        let (batch_rows, flush_interval_ms) = match events {
            EventsBackend::DuckDb => (w.batch_rows, w.flush_interval_ms),
            EventsBackend::ClickHouse(_) => (
                self.clickhouse.batch_rows,
                self.clickhouse.flush_interval_ms,
            ),
        };
        // A day at most: counts are meant to look live.
        check_range(
            "api.public_max_age_seconds",
            self.api.public_max_age_seconds.into(),
            0,
            86_400,
        )?;
        check_range(
            "api.requests_per_hour",
            self.api.requests_per_hour.into(),
            1,
            10_000_000,
        )?;
        let r = &self.rate_limits;
        for (key, value, max) in [
            (
                "rate_limits.events_per_second",
                r.events_per_second,
                1_000_000,
            ),
            (
                "rate_limits.reads_per_second",
                r.reads_per_second,
                1_000_000,
            ),
        ] {
            check_range(key, value.into(), 0, max)?;
        }
        for (key, value) in [
            ("rate_limits.events_burst", r.events_burst),
            ("rate_limits.reads_burst", r.reads_burst),
        ] {
            check_range(key, value.into(), 1, 10_000_000)?;
        }
        let n = &self.connections;
        check_range("connections.limit", n.limit.into(), 1, 1_000_000)?;
        // Past a few minutes a client that sends nothing holds its connection for nothing.
        check_range(
            "connections.header_timeout_seconds",
            n.header_timeout_seconds.into(),
            1,
            300,
        )?;
        check_range(
            "connections.proxy_idle_timeout_seconds",
            n.proxy_idle_timeout_seconds.into(),
            1,
            3_600,
        )?;
        if !is_memory_size(&self.store.memory_limit) {
            return Err(invalid(
                "store.memory_limit",
                format!(
                    "{:?} is not a size such as 128MB or 1GB",
                    self.store.memory_limit
                ),
            ));
        }

        Ok(Settings {
            listen,
            database,
            client_ip: ClientIpPolicy::new(trusted, header),
            geoip: self.geoip.clone(),
            log: self.log.clone(),
            public_url,
            max_body_bytes: c.max_body_bytes,
            collector: CollectorSettings {
                session_timeout: chrono::Duration::minutes(c.session_timeout_minutes.into()),
                repeat_pageview_limit: c.repeat_pageview_limit,
                user_agent_cache: c.user_agent_cache,
                spam_referrers: c.spam_referrers.clone(),
            },
            writer: WriterSettings {
                queue_capacity: w.queue_capacity,
                batch_rows,
                flush_interval: Duration::from_millis(flush_interval_ms),
            },
            events,
            clickhouse,
            counters_refresh,
            store: StoreOptions {
                memory_limit: self.store.memory_limit.clone(),
                threads: self.store.threads,
            },
            api_requests_per_hour: self.api.requests_per_hour,
            public_max_age_seconds: self.api.public_max_age_seconds,
            rate_limits: RateLimits {
                events: Rate {
                    per_second: r.events_per_second,
                    burst: r.events_burst,
                },
                reads: Rate {
                    per_second: r.reads_per_second,
                    burst: r.reads_burst,
                },
            },
            connections: ConnectionSettings {
                limit: n.limit,
                header_timeout: Duration::from_secs(n.header_timeout_seconds.into()),
                proxy_idle_timeout: Duration::from_secs(n.proxy_idle_timeout_seconds.into()),
            },
            sites: validate_sites(&self.sites)?,
            goals: validate_goals(&self.sites)?,
            data_dir: self.data_dir,
        })
    }
}

impl Config {
    /// `[clickhouse]`'s servers, checked whenever any are listed (`footfall migrate` reads them
    /// whatever the backend); none when none are.
    fn clickhouse_servers(&self) -> Result<Vec<ClickHouseConfig>, ConfigError> {
        let ch = &self.clickhouse;
        let mut seen = HashSet::new();
        for url in &ch.shards {
            let parsed = url::Url::parse(url).ok().filter(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && u.path() == "/"
                    && u.query().is_none()
                    && u.username().is_empty()
            });
            if parsed.is_none() {
                return Err(invalid(
                    "clickhouse.shards",
                    format!("{url:?} is not an HTTP URL such as http://10.0.0.5:8123 (no path or credentials: set clickhouse.user and clickhouse.password)"),
                ));
            }
            if !seen.insert(url.trim_end_matches('/')) {
                return Err(invalid(
                    "clickhouse.shards",
                    format!("{url:?} is listed twice"),
                ));
            }
        }
        check_range(
            "clickhouse.query_timeout_seconds",
            ch.query_timeout_seconds.into(),
            1,
            3_600,
        )?;
        check_range("clickhouse.batch_rows", ch.batch_rows as u64, 1, 1_000_000)?;
        // As the writer's own: past a few seconds the 10-second shutdown would not hold.
        check_range(
            "clickhouse.flush_interval_ms",
            ch.flush_interval_ms,
            1,
            5_000,
        )?;
        Ok(ch
            .shards
            .iter()
            .map(|url| ClickHouseConfig {
                url: url.trim_end_matches('/').to_owned(),
                user: ch.user.clone(),
                password: ch.password.clone(),
                max_execution_time: Duration::from_secs(ch.query_timeout_seconds.into()),
            })
            .collect())
    }

    /// `store.backend`, with `[clickhouse]`'s servers for ClickHouse.
    fn events_backend(&self, servers: &[ClickHouseConfig]) -> Result<EventsBackend, ConfigError> {
        match self.store.backend.as_str() {
            "duckdb" => Ok(EventsBackend::DuckDb),
            "clickhouse" if servers.is_empty() => Err(invalid(
                "clickhouse.shards",
                "store.backend is clickhouse: list each shard's HTTP URL, such as [\"http://127.0.0.1:8123\"]",
            )),
            "clickhouse" => Ok(EventsBackend::ClickHouse(servers.to_vec())),
            other => Err(invalid(
                "store.backend",
                format!("{other:?} is not duckdb or clickhouse"),
            )),
        }
    }
}

fn validate_sites(sites: &[SiteConfig]) -> Result<Vec<SiteSettings>, ConfigError> {
    let mut seen = HashSet::new();
    sites
        .iter()
        .enumerate()
        .map(|(i, site)| {
            let key = |field: &str| format!("sites[{i}].{field}");
            let domain = SiteDomain::parse(&site.domain)
                .map_err(|e| invalid(key("domain"), e.to_string()))?;
            if !seen.insert(domain.clone()) {
                return Err(invalid(
                    key("domain"),
                    format!("{domain} is declared twice"),
                ));
            }
            let timezone =
                validate_timezone(&site.timezone).map_err(|m| invalid(key("timezone"), m))?;
            compile_globs(&site.exclude_paths)
                .map_err(|e| invalid(key("exclude_paths"), e.to_string()))?;
            compile_globs(&site.counter_exclude)
                .map_err(|e| invalid(key("counter_exclude"), e.to_string()))?;
            let exclude_ips = site
                .exclude_ips
                .iter()
                .map(|p| {
                    parse_net(p).ok_or_else(|| {
                        invalid(
                            key("exclude_ips"),
                            format!("{p:?} is not an IP address or CIDR network"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
            Ok(SiteSettings {
                domain,
                timezone,
                exclude_paths: site.exclude_paths.clone(),
                exclude_ips,
                respect_dnt: site.respect_dnt,
                public: PublicCounters {
                    enabled: site.public_counters,
                    hidden_paths: site.counter_exclude.clone(),
                    min_visitors: site.counter_min_visitors,
                },
            })
        })
        .collect()
}

fn validate_goals(sites: &[SiteConfig]) -> Result<HashMap<String, Vec<Goal>>, ConfigError> {
    let mut all = HashMap::new();
    for (i, site) in sites.iter().enumerate() {
        let mut goals = Vec::new();
        for (j, goal) in site.goals.iter().enumerate() {
            let key = format!("sites[{i}].goals[{j}]");
            let goal = match (&goal.page, &goal.event) {
                (Some(page), None) => Goal::page(page),
                (None, Some(event)) => Goal::event(event),
                _ => {
                    return Err(invalid(
                        key,
                        "a goal is either { page = \"/path\" } or { event = \"Name\" }",
                    ))
                }
            }
            .map_err(|e| invalid(key, e.to_string()))?;
            if !goals.contains(&goal) {
                goals.push(goal);
            }
        }
        // Domains are checked by `validate_sites`.
        if let Ok(domain) = SiteDomain::parse(&site.domain) {
            all.insert(domain.to_string(), goals);
        }
    }
    Ok(all)
}

/// An IANA zone name such as `Europe/Berlin`, returned in its canonical spelling.
pub fn validate_timezone(name: &str) -> Result<String, String> {
    name.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| format!("{name:?} is not a time zone name such as UTC or Europe/Berlin"))
}

/// `10.0.0.0/8`, or a bare address meaning just that host.
pub fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

fn check_range(key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("must be between {min} and {max} (got {value})"),
        ))
    }
}

/// DuckDB's size syntax: a number and a unit.
fn is_memory_size(text: &str) -> bool {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let unit = text[digits..].trim().to_uppercase();
    digits > 0
        && text[..digits].parse::<f64>().is_ok_and(|n| n > 0.0)
        && ["KB", "MB", "GB", "TB", "KIB", "MIB", "GIB", "TIB"].contains(&unit.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn no_file() -> Overrides {
        // Points at a file that exists and is empty, so a footfall.toml in the working directory
        // cannot leak into tests.
        let path = std::env::temp_dir().join(format!("footfall-empty-{}.toml", std::process::id()));
        std::fs::write(&path, "").unwrap();
        Overrides {
            config: Some(path),
            ..Overrides::default()
        }
    }

    #[test]
    fn defaults_work_without_a_file() {
        let (s, ignored) = load(&no_file(), env(&[])).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8800".parse().unwrap());
        assert_eq!(s.data_dir, PathBuf::from("footfall-data"));
        assert_eq!(s.database, PathBuf::from("footfall-data/footfall.duckdb"));
        assert_eq!(s.max_body_bytes, 8192);
        assert_eq!(s.writer.flush_interval, Duration::from_millis(200));
        assert_eq!(s.rate_limits, RateLimits::default());
        assert_eq!(s.connections.header_timeout, Duration::from_secs(10));
        assert!(ignored.is_empty());
    }

    #[test]
    fn a_rate_of_zero_turns_a_limit_off() {
        let (s, _) = load(
            &no_file(),
            env(&[
                ("FOOTFALL_RATE_LIMITS__EVENTS_PER_SECOND", "0"),
                ("FOOTFALL_CONNECTIONS__PROXY_IDLE_TIMEOUT_SECONDS", "60"),
            ]),
        )
        .unwrap();
        assert_eq!(s.rate_limits.events.per_second, 0);
        assert_eq!(s.rate_limits.reads, RateLimits::default().reads);
        assert_eq!(s.connections.proxy_idle_timeout, Duration::from_secs(60));
    }

    #[test]
    fn file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        std::fs::write(
            &path,
            r#"
            listen = "127.0.0.1:9000"
            trusted_proxies = ["127.0.0.1"]
            [writer]
            flush_interval_ms = 100
            [[sites]]
            domain = "www.Example.com"
            timezone = "Europe/Berlin"
            exclude_paths = ["/admin/**"]
            "#,
        )
        .unwrap();
        let overrides = Overrides {
            config: Some(path.clone()),
            ..Overrides::default()
        };
        let (s, ignored) = load(
            &overrides,
            env(&[
                ("FOOTFALL_WRITER__BATCH_ROWS", "77"),
                ("FOOTFALL_TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
                ("FOOTFALL_DATA_DIR", "/tmp/ff"),
                ("FOOTFALL_NOT_A_KEY", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.writer.flush_interval, Duration::from_millis(100));
        assert_eq!(s.writer.batch_rows, 77);
        assert_eq!(s.data_dir, PathBuf::from("/tmp/ff"));
        assert_eq!(s.sites[0].domain.as_str(), "example.com");
        assert_eq!(s.sites[0].timezone, "Europe/Berlin");
        assert_eq!(ignored, vec!["FOOTFALL_NOT_A_KEY".to_string()]);

        let overrides = Overrides {
            config: Some(path),
            listen: Some("0.0.0.0:1".into()),
            data_dir: None,
        };
        let (s, _) = load(&overrides, env(&[("FOOTFALL_LISTEN", "127.0.0.1:2")])).unwrap();
        assert_eq!(s.listen, "0.0.0.0:1".parse().unwrap());
    }

    /// ClickHouse: its servers, its own batches for the writer, and a password kept out of the
    /// settings' `Debug`.
    #[test]
    fn the_clickhouse_backend_is_configured_by_its_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("footfall.toml");
        std::fs::write(
            &path,
            "[store]\nbackend = \"clickhouse\"\n[clickhouse]\n\
             shards = [\"http://10.0.0.5:8123/\", \"https://ch2.internal:8443\"]\n\
             user = \"footfall\"\nbatch_rows = 20000\n",
        )
        .unwrap();
        let overrides = Overrides {
            config: Some(path),
            ..Overrides::default()
        };
        let (s, _) = load(
            &overrides,
            env(&[("FOOTFALL_CLICKHOUSE__PASSWORD", "s3cret-word")]),
        )
        .unwrap();
        let EventsBackend::ClickHouse(servers) = &s.events else {
            panic!("{:?}", s.events);
        };
        let urls: Vec<&str> = servers.iter().map(|c| c.url.as_str()).collect();
        assert_eq!(urls, ["http://10.0.0.5:8123", "https://ch2.internal:8443"]);
        assert!(servers
            .iter()
            .all(|c| c.user == "footfall" && c.password == "s3cret-word"));
        assert_eq!(s.writer.batch_rows, 20_000);
        assert_eq!(s.writer.flush_interval, Duration::from_secs(1));
        assert!(!format!("{s:?}").contains("s3cret-word"));
        // DuckDB keeps the writer's own batches.
        let (s, _) = load(&no_file(), env(&[])).unwrap();
        assert!(matches!(s.events, EventsBackend::DuckDb));
        assert_eq!(s.writer.flush_interval, Duration::from_millis(200));
    }

    #[test]
    fn errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("listen = \"nope\"", "listen"),
            ("lisen = \"127.0.0.1:1\"", "unknown field `lisen`"),
            (
                "[writer]\nflush_interval_ms = 0",
                "writer.flush_interval_ms: must be between 1 and 5000 (got 0)",
            ),
            ("trusted_proxies = [\"10.0.0.0/33\"]", "trusted_proxies"),
            ("client_ip_header = \"x-client\"", "client_ip_header"),
            ("[store]\nmemory_limit = \"lots\"", "store.memory_limit"),
            ("[store]\nbackend = \"postgres\"", "store.backend"),
            ("[store]\nbackend = \"clickhouse\"", "clickhouse.shards"),
            (
                "[store]\nbackend = \"clickhouse\"\n[clickhouse]\nshards = [\"ftp://x:21\"]",
                "clickhouse.shards",
            ),
            (
                "[store]\nbackend = \"clickhouse\"\n[clickhouse]\nshards = [\"http://u:p@x:8123\"]",
                "clickhouse.shards",
            ),
            (
                "[store]\nbackend = \"clickhouse\"\n[clickhouse]\nshards = [\"http://a:8123\", \"http://a:8123/\"]",
                "clickhouse.shards: \"http://a:8123/\" is listed twice",
            ),
            (
                "[store]\nbackend = \"clickhouse\"\n[clickhouse]\nshards = [\"http://a:8123\"]\nflush_interval_ms = 60000",
                "clickhouse.flush_interval_ms",
            ),
            ("[[sites]]\ndomain = \"https://x.com\"", "sites[0].domain"),
            (
                "[[sites]]\ndomain = \"x.com\"\ntimezone = \"Mars/Olympus\"",
                "sites[0].timezone",
            ),
            (
                "[[sites]]\ndomain = \"x.com\"\n[[sites]]\ndomain = \"www.x.com\"",
                "sites[1].domain: x.com is declared twice",
            ),
            (
                "[[sites]]\ndomain = \"x.com\"\nexclude_paths = [\"/a/[\"]",
                "sites[0].exclude_paths",
            ),
            ("listen = ", "config file"),
            (
                "[rate_limits]\nevents_burst = 0",
                "rate_limits.events_burst: must be between 1 and 10000000 (got 0)",
            ),
            (
                "[connections]\nheader_timeout_seconds = 0",
                "connections.header_timeout_seconds: must be between 1 and 300 (got 0)",
            ),
            ("[connections]\nlimit = 0", "connections.limit"),
        ];
        for (i, (text, expected)) in cases.iter().enumerate() {
            let path = dir.path().join(format!("c{i}.toml"));
            std::fs::write(&path, text).unwrap();
            let err = load(
                &Overrides {
                    config: Some(path),
                    ..Overrides::default()
                },
                env(&[]),
            )
            .unwrap_err();
            assert!(err.to_string().contains(expected), "{text:?} gave {err}");
        }
        let err = load(&no_file(), env(&[("FOOTFALL_WRITER__BATCH_ROWS", "many")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable FOOTFALL_WRITER__BATCH_ROWS: must be a whole number"
        );
        let err = load(
            &Overrides {
                config: Some("/nonexistent/f.toml".into()),
                ..Overrides::default()
            },
            env(&[]),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read config file /nonexistent/f.toml"),
            "{err}"
        );
    }

    #[test]
    fn the_example_file_is_valid_and_documents_every_key() {
        let example = concat!(env!("CARGO_MANIFEST_DIR"), "/footfall.example.toml");
        let text = std::fs::read_to_string(example).unwrap();
        let uncommented: String = text
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|rest| looks_like_setting(rest))
                    .unwrap_or(l)
            })
            .collect::<Vec<_>>()
            .join("\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("example.toml");
        std::fs::write(&path, &uncommented).unwrap();
        load(
            &Overrides {
                config: Some(path),
                ..Overrides::default()
            },
            env(&[]),
        )
        .unwrap();

        let defaults = toml::Table::try_from(Config::default()).unwrap();
        for (key, value) in &defaults {
            let keys: Vec<String> = match value {
                toml::Value::Table(t) => t.keys().map(|k| k.to_string()).collect(),
                _ => vec![key.clone()],
            };
            for k in keys {
                let documented = uncommented.contains(&format!("{k} ="))
                    || uncommented.contains(&format!("[[{k}]]"));
                assert!(documented, "footfall.example.toml does not document {k}");
            }
        }
        for k in [
            "domain",
            "timezone",
            "exclude_paths",
            "exclude_ips",
            "respect_dnt",
            "goals",
        ] {
            assert!(
                uncommented.contains(&format!("{k} =")),
                "footfall.example.toml does not document sites.{k}"
            );
        }
    }

    fn looks_like_setting(line: &str) -> bool {
        line.starts_with('[')
            || line
                .split_once(" = ")
                .is_some_and(|(k, _)| !k.contains(' '))
    }

    #[test]
    fn memory_sizes() {
        for ok in ["128MB", "1GB", "512 MiB", "1.5GB"] {
            assert!(is_memory_size(ok), "{ok}");
        }
        for bad in ["", "MB", "128", "-1MB", "12XB"] {
            assert!(!is_memory_size(bad), "{bad}");
        }
    }
}
