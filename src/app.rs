//! The running application's shared state, and how it is built from settings.

use std::sync::Arc;

use anyhow::Context;
use chrono_tz::Tz;
use footfall_collector::clock::{Clock, SystemClock};
use footfall_collector::geo::GeoDb;
use footfall_collector::sites::Site;
use footfall_collector::{Collector, SiteDomain};
use footfall_queries::clickhouse::{schema, ClickHouseReader, ClickHouseSink, Client};
use footfall_queries::counters::{CounterReads, Counters, Rules};
use footfall_queries::stats::rollup;
use footfall_queries::stats::run::Events;
use footfall_queries::{
    owners, sites, Checkpointer, Connection, DuckDbSink, EventSink, Store, Writer,
};
use parking_lot::Mutex;

use crate::api_keys::ApiLimiter;
use crate::auth::{self, LoginLimits};
use crate::config::{EventsBackend, Settings};
use crate::rate_limit::ClientLimits;

/// What every handler can reach.
pub struct App {
    pub settings: Settings,
    /// The Stats API's requests per key and hour.
    pub api_limiter: ApiLimiter,
    /// The public endpoints' requests per client address (swept by the server).
    pub client_limits: Arc<ClientLimits>,
    pub collector: Arc<Collector>,
    pub writer: Writer,
    /// Checkpoints the store on its own thread as a commit ends, so commits do not do it and
    /// rarely wait for it. Stopped before the writer's last commit and checkpoint.
    pub checkpointer: Mutex<Checkpointer>,
    /// Rolls up each day once it closes, so queries over long periods stay fast.
    pub rollups: rollup::Keeper,
    pub store: Arc<Store>,
    /// Where the events are read from.
    pub events: EventStore,
    /// Per-page counts for the public endpoints, advanced by the writer.
    pub counters: Arc<Counters>,
    /// Failed sign-ins, per client address and per name.
    pub login_limits: LoginLimits,
    /// While nobody owns the server: the secret of the one-time link that creates the first
    /// owner (printed at start, kept in memory only).
    pub setup_token: Mutex<Option<String>>,
    /// Password hashes being made or checked at once, at most (each takes 19 MiB).
    pub password_checks: Arc<tokio::sync::Semaphore>,
}

/// Where the events are read from: the store's own `events` table, or ClickHouse.
pub enum EventStore {
    DuckDb,
    ClickHouse(ClickHouseReader),
}

impl EventStore {
    /// The events' reads, for work holding `conn` (a connection to the store).
    pub fn reader<'a>(&'a self, conn: &'a Connection) -> Events<'a> {
        match self {
            EventStore::DuckDb => Events::DuckDb(conn),
            EventStore::ClickHouse(reader) => Events::ClickHouse(reader),
        }
    }
}

impl App {
    /// Opens the store (creating the data directory), loads the sites, and starts the writer.
    pub fn start(settings: Settings) -> anyhow::Result<Arc<App>> {
        Self::start_with_clock(settings, Arc::new(SystemClock))
    }

    pub fn start_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<App>> {
        std::fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                settings.data_dir.display()
            )
        })?;
        let store = Arc::new(Store::open(&settings.database, &settings.store)?);
        let geo = if settings.geoip.is_empty() {
            GeoDb::none()
        } else {
            GeoDb::open(&settings.geoip)?
        };
        if !geo.is_configured() {
            tracing::info!("no GeoIP database configured: countries will be unknown (see README, \"Locations\")");
        }
        let collector = Arc::new(Collector::new(
            settings.collector.clone(),
            geo,
            clock.clone(),
        ));
        load_sites(&settings, &store, &collector)?;
        if collector.sites().is_empty() {
            tracing::warn!("no sites registered: every event will be dropped until you run `footfall site add DOMAIN`");
        }
        let (events, sink, counter_reads): (EventStore, Box<dyn EventSink>, Box<dyn CounterReads>) =
            match &settings.events {
                EventsBackend::DuckDb => (
                    EventStore::DuckDb,
                    Box::new(DuckDbSink::new(store.connection()?)),
                    Box::new(store.connection()?),
                ),
                EventsBackend::ClickHouse(servers) => {
                    let shards: Vec<Client> = servers.iter().map(Client::new).collect();
                    // Every shard must be up at start: the schema is made (or checked) on each.
                    schema::apply(&shards).context(
                        "cannot prepare the ClickHouse tables (see [clickhouse] shards)",
                    )?;
                    tracing::info!("events go to ClickHouse, {} shard(s)", shards.len());
                    // Reads go through the first shard's Distributed tables, which reach all.
                    let reader = ClickHouseReader::new(shards[0].clone());
                    (
                        EventStore::ClickHouse(reader.clone()),
                        Box::new(ClickHouseSink::new(shards)?),
                        Box::new(reader),
                    )
                }
            };
        let counters = load_counters(
            counter_reads,
            &collector,
            clock.clone(),
            settings.counters_refresh,
        )?;
        let checkpointer = Checkpointer::spawn(&store)?;
        let writer = Writer::spawn_observed(
            sink,
            collector.clone(),
            settings.writer.clone(),
            vec![counters.clone(), checkpointer.observer()],
        );
        // Every setting is made by now.
        store.lock_configuration()?;
        // With ClickHouse, the store's own events table stays empty and the keeper idles.
        let rollups = rollup::Keeper::spawn(store.connection()?, clock);
        let setup_token = first_run_link(&store)?;
        // Made now, so that the first sign-in with an unknown name takes no longer than others.
        auth::prepare();
        if settings.public_url.is_empty() && settings.client_ip.trusts_any() {
            tracing::warn!("public_url is not set: behind an https proxy, set it (public_url = \"https://stats.example.com\") so the login cookie is Secure and sign-ins are checked against it");
        }
        Ok(Arc::new(App {
            rollups,
            api_limiter: ApiLimiter::new(settings.api_requests_per_hour),
            client_limits: Arc::new(ClientLimits::new(settings.rate_limits)),
            settings,
            collector,
            writer,
            checkpointer: Mutex::new(checkpointer),
            store,
            events,
            counters,
            login_limits: LoginLimits::default(),
            setup_token: Mutex::new(setup_token),
            password_checks: Arc::new(tokio::sync::Semaphore::new(4)),
        }))
    }
}

/// When nobody owns the server yet, the secret of a one-time link that creates the first owner
/// (the server logs the link once it listens).
fn first_run_link(store: &Store) -> anyhow::Result<Option<String>> {
    if !owners::list(&store.connection()?)?.is_empty() {
        return Ok(None);
    }
    Ok(Some(auth::new_token()))
}

/// The public sites' counts from the store, each in its site's time zone. Done before the writer
/// starts, so that no event is counted twice. With `refresh`, the recent days are read again on
/// that timer (other collectors write to the store too).
fn load_counters(
    reads: Box<dyn CounterReads>,
    collector: &Arc<Collector>,
    clock: Arc<dyn Clock>,
    refresh: Option<std::time::Duration>,
) -> anyhow::Result<Arc<Counters>> {
    let registry = collector.clone();
    // Read from the live registry, so a site turned on or off later is counted or not.
    let rules: Rules = Arc::new(move |domain: &str| {
        let site = registry.sites().get(&SiteDomain::parse(domain).ok()?)?;
        site.settings
            .public
            .enabled
            .then(|| site.settings.timezone.parse().unwrap_or(Tz::UTC))
    });
    let started = std::time::Instant::now();
    let mut counters = Counters::load(reads, rules, clock)
        .context("cannot count the stored events for the public counters")?;
    tracing::info!("public counts loaded in {:.1?}", started.elapsed());
    if let Some(every) = refresh {
        counters = counters.refresh_every(every);
    }
    Ok(Arc::new(counters))
}

/// Sites from the config file and from the `sites` table, into the collector's registry. A site
/// in both keeps the file's settings.
fn load_sites(settings: &Settings, store: &Store, collector: &Collector) -> anyhow::Result<()> {
    let conn = store.connection()?;
    for stored in sites::registered(&conn)? {
        match crate::admin::registered_settings(&stored).map(Site::new) {
            Ok(Ok(site)) => collector.sites().insert(site),
            _ => tracing::warn!("ignoring invalid site {:?} in the database", stored.domain),
        }
    }
    for site in &settings.sites {
        collector.sites().insert(Site::new(site.clone())?);
    }
    Ok(())
}
