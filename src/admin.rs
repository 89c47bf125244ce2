//! Owner commands (`footfall site add`, …) that work whether or not the server is running.
//!
//! DuckDB lets one process open a database file for writing. While the server runs, it holds the
//! file, so the command line sends its command over a Unix socket in the data directory
//! (`footfall.sock`, mode 0600, so only the owner's account can use it) and the server runs it
//! and updates its live site list at once. When no server answers, the command line opens the
//! file itself and runs the same code.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Days, Utc};
use footfall_collector::sites::{compile_globs, Site, SiteSettings, Sites};
use footfall_collector::SiteDomain;
use footfall_queries::clickhouse::{self, ClickHouseReader, Client};
use footfall_queries::counters::Counters;
use footfall_queries::stats::Goal;
use footfall_queries::{drops, goals, keys, owners, shares, sites, Store};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::app::App;
use crate::config::{parse_net, validate_timezone, EventsBackend, Settings};
use crate::{api_keys, auth};

/// One owner command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    SiteAdd {
        domain: String,
        timezone: String,
        #[serde(default)]
        public_counters: bool,
    },
    SiteCounters {
        domain: String,
        enabled: bool,
    },
    SiteList,
    SiteTimezone {
        domain: String,
        timezone: String,
    },
    /// Replaces the site's rules: paths and networks never recorded, paths whose public counts
    /// are hidden.
    SiteRules {
        domain: String,
        #[serde(default)]
        exclude_paths: Vec<String>,
        #[serde(default)]
        exclude_ips: Vec<String>,
        #[serde(default)]
        hidden_paths: Vec<String>,
    },
    /// The token arrives hashed, and the password too: neither crosses the socket.
    ShareAdd {
        site: String,
        id: String,
        token_hash: String,
        label: String,
        password_hash: Option<String>,
    },
    ShareList {
        site: String,
    },
    ShareRevoke {
        site: String,
        id: String,
    },
    SiteRemove {
        domain: String,
        purge: bool,
    },
    Dropped {
        days: u32,
    },
    KeyCreate {
        sites: Vec<String>,
    },
    KeyList,
    KeyRevoke {
        id: String,
    },
    GoalAdd {
        site: String,
        page: Option<String>,
        event: Option<String>,
    },
    GoalList {
        site: String,
    },
    GoalRemove {
        site: String,
        page: Option<String>,
        event: Option<String>,
    },
    /// The password arrives hashed: it never crosses the socket.
    UserAdd {
        name: String,
        password_hash: String,
    },
    UserPasswd {
        name: String,
        password_hash: String,
    },
    UserRemove {
        name: String,
    },
    UserList,
}

/// The answer: text for the owner, and whether the command succeeded (the exit status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub ok: bool,
    pub message: String,
    /// The command failed on the server's side (the store), not on what it was given.
    #[serde(default)]
    pub internal: bool,
}

impl Outcome {
    fn ok(message: impl Into<String>) -> Self {
        Outcome {
            ok: true,
            message: message.into(),
            internal: false,
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Outcome {
            ok: false,
            message: message.into(),
            internal: false,
        }
    }
}

/// Which sites a command may change: any, or only those whose settings live in the store (a
/// site of the config file has its time zone and rules changed in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Any,
    StoreOnly,
}

/// The domain of a site the command may change, or why it cannot.
fn site_named(
    conn: &footfall_queries::Connection,
    settings: &Settings,
    site: &str,
    reach: Reach,
) -> anyhow::Result<Result<SiteDomain, String>> {
    let domain = match SiteDomain::parse(site) {
        Ok(d) => d,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let in_file = settings.sites.iter().any(|s| s.domain == domain);
    if in_file && reach == Reach::StoreOnly {
        return Ok(Err(format!(
            "{domain} is declared in the config file: change it there and restart"
        )));
    }
    Ok(if in_file || sites::exists(conn, domain.as_str())? {
        Ok(domain)
    } else {
        Err(format!(
            "{domain} is not a registered site (footfall site add {domain})"
        ))
    })
}

/// Most patterns a rule list holds, and the longest pattern: rules are checked for every event.
const MAX_RULES: usize = 200;
const MAX_RULE_LEN: usize = 300;

/// Why a site's rules cannot be stored, naming the first bad pattern.
fn check_rules(rules: &sites::SiteRules) -> Result<(), String> {
    let lists = [
        ("excluded paths", &rules.exclude_paths),
        ("excluded IP ranges", &rules.exclude_ips),
        ("hidden paths", &rules.hidden_paths),
    ];
    for (what, list) in lists {
        if list.len() > MAX_RULES {
            return Err(format!("at most {MAX_RULES} {what}"));
        }
        for pattern in list {
            if pattern.is_empty()
                || pattern.len() > MAX_RULE_LEN
                || pattern.chars().any(char::is_control)
            {
                return Err(format!(
                    "{what}: {pattern:?} must be 1 to {MAX_RULE_LEN} characters on one line"
                ));
            }
        }
    }
    for path in rules.exclude_paths.iter().chain(&rules.hidden_paths) {
        if !path.starts_with('/') {
            return Err(format!(
                "{path:?} is not a path pattern: it must start with /"
            ));
        }
        compile_globs(std::slice::from_ref(path)).map_err(|e| e.to_string())?;
    }
    for net in &rules.exclude_ips {
        if parse_net(net).is_none() {
            return Err(format!(
                "{net:?} is not an IP address or CIDR network (such as 203.0.113.0/24)"
            ));
        }
    }
    Ok(())
}

/// The collector's settings of a site of the `sites` table.
pub fn registered_settings(stored: &sites::RegisteredSite) -> anyhow::Result<SiteSettings> {
    let mut site = SiteSettings::new(SiteDomain::parse(&stored.domain)?);
    site.timezone = stored.timezone.clone();
    site.public.enabled = stored.public_counters;
    site.exclude_paths = stored.rules.exclude_paths.clone();
    site.public.hidden_paths = stored.rules.hidden_paths.clone();
    // Checked when stored; a row edited by hand loses only its bad networks.
    site.exclude_ips = stored
        .rules
        .exclude_ips
        .iter()
        .filter_map(|net| parse_net(net))
        .collect();
    Ok(site)
}

/// Puts a registered site's row, as it now is, into the running server's registry.
fn refresh_live(
    conn: &footfall_queries::Connection,
    live: Option<Live<'_>>,
    domain: &SiteDomain,
) -> anyhow::Result<()> {
    let Some(live) = live else { return Ok(()) };
    if let Some(stored) = sites::registered(conn)?
        .iter()
        .find(|s| s.domain == domain.as_str())
    {
        live.sites.insert(Site::new(registered_settings(stored)?)?);
    }
    Ok(())
}

/// Where the running server listens for commands.
pub fn socket_path(settings: &Settings) -> PathBuf {
    settings.data_dir.join("footfall.sock")
}

/// What a running server lets a command change at once: its site registry and its public
/// counts.
#[derive(Clone, Copy)]
pub struct Live<'a> {
    pub sites: &'a Sites,
    pub counters: &'a Counters,
    pub setup_token: &'a parking_lot::Mutex<Option<String>>,
}

/// Runs a command against an open store. `live` is the running server's site registry, which is
/// updated too; the command line passes `None`.
pub fn execute(
    command: &Command,
    store: &Store,
    settings: &Settings,
    live: Option<Live<'_>>,
) -> Outcome {
    match run(command, store, settings, live) {
        Ok(outcome) => outcome,
        Err(e) => Outcome {
            internal: true,
            ..Outcome::failed(format!("error: {e:#}"))
        },
    }
}

/// How long `site remove --purge` waits for ClickHouse to finish deleting.
const CLICKHOUSE_PURGE_WAIT: Duration = Duration::from_secs(60);

fn run(
    command: &Command,
    store: &Store,
    settings: &Settings,
    live: Option<Live<'_>>,
) -> anyhow::Result<Outcome> {
    let conn = store.connection()?;
    let in_config = |domain: &SiteDomain| settings.sites.iter().any(|s| &s.domain == domain);
    Ok(match command {
        Command::SiteAdd {
            domain,
            timezone,
            public_counters,
        } => {
            let domain = match SiteDomain::parse(domain) {
                Ok(d) => d,
                Err(e) => return Ok(Outcome::failed(e.to_string())),
            };
            let timezone = match validate_timezone(timezone) {
                Ok(tz) => tz,
                Err(e) => return Ok(Outcome::failed(e)),
            };
            if in_config(&domain) {
                return Ok(Outcome::ok(format!(
                    "{domain} is already declared in the config file"
                )));
            }
            if !sites::add(&conn, domain.as_str(), &timezone, *public_counters)? {
                return Ok(Outcome::ok(format!("{domain} is already registered")));
            }
            refresh_live(&conn, live, &domain)?;
            if let Some(live) = live {
                // Events of an earlier registration may be in the store, in another zone.
                live.counters.forget(domain.as_str());
                if *public_counters {
                    live.counters.request_load(domain.as_str());
                }
            }
            let counters = if *public_counters {
                format!("\npublic hit counts are on: https://YOUR-FOOTFALL-HOST/api/counter?site={domain}&path=/")
            } else {
                String::new()
            };
            Outcome::ok(format!(
                "added {domain} (time zone {timezone})\nembed on its pages:\n  <script defer src=\"https://YOUR-FOOTFALL-HOST/script.js\" data-domain=\"{domain}\"></script>{counters}"
            ))
        }
        Command::SiteCounters { domain, enabled } => {
            let domain = match SiteDomain::parse(domain) {
                Ok(d) => d,
                Err(e) => return Ok(Outcome::failed(e.to_string())),
            };
            if in_config(&domain) {
                return Ok(Outcome::failed(format!(
                    "{domain} is declared in the config file: set public_counters there and restart"
                )));
            }
            if !sites::set_public_counters(&conn, domain.as_str(), *enabled)? {
                return Ok(Outcome::failed(format!(
                    "{domain} is not a registered site (footfall site add {domain})"
                )));
            }
            // From the row, so a change made at the same moment is not undone in memory.
            refresh_live(&conn, live, &domain)?;
            if let Some(live) = live {
                if *enabled {
                    live.counters.request_load(domain.as_str());
                } else {
                    live.counters.forget(domain.as_str());
                }
            }
            Outcome::ok(format!(
                "public hit counts of {domain} are {}",
                if *enabled { "on" } else { "off" }
            ))
        }
        Command::SiteList => {
            let stored = sites::list(&conn)?;
            // With ClickHouse, the events are counted there.
            let clickhouse = match &settings.events {
                EventsBackend::ClickHouse(servers) => Some(clickhouse::purge::events_per_site(
                    &servers.iter().map(Client::new).collect::<Vec<_>>(),
                )?),
                EventsBackend::DuckDb => None,
            };
            let events_of = |domain: &str, here: u64| match &clickhouse {
                Some(counts) => counts
                    .iter()
                    .find(|(site, _)| site == domain)
                    .map_or(0, |(_, n)| *n),
                None => here,
            };
            let yes_no = |on: bool| if on { "yes" } else { "no" };
            let mut lines = vec![format!(
                "{:<40} {:<24} {:<8} {:>12}  PUBLIC COUNTS",
                "DOMAIN", "TIME ZONE", "FROM", "EVENTS"
            )];
            for site in &settings.sites {
                let events = match clickhouse {
                    Some(_) => events_of(site.domain.as_str(), 0),
                    None => sites::event_count(&conn, site.domain.as_str())?,
                };
                lines.push(format!(
                    "{:<40} {:<24} {:<8} {:>12}  {}",
                    site.domain,
                    site.timezone,
                    "config",
                    events,
                    yes_no(site.public.enabled)
                ));
            }
            for site in stored
                .iter()
                .filter(|s| !settings.sites.iter().any(|c| c.domain.as_str() == s.domain))
            {
                lines.push(format!(
                    "{:<40} {:<24} {:<8} {:>12}  {}",
                    site.domain,
                    site.timezone,
                    "cli",
                    events_of(&site.domain, site.events),
                    yes_no(site.public_counters)
                ));
            }
            if lines.len() == 1 {
                Outcome::ok("no sites yet: add one with `footfall site add example.com`")
            } else {
                Outcome::ok(lines.join("\n"))
            }
        }
        Command::SiteRemove { domain, purge } => {
            let domain = match SiteDomain::parse(domain) {
                Ok(d) => d,
                Err(e) => return Ok(Outcome::failed(e.to_string())),
            };
            if in_config(&domain) {
                return Ok(Outcome::failed(format!(
                    "{domain} is declared in the config file: remove it there and restart"
                )));
            }
            let removed = sites::remove(&conn, domain.as_str(), *purge)?;
            if !removed.site_removed {
                return Ok(Outcome::failed(format!(
                    "{domain} is not a registered site"
                )));
            }
            if let Some(live) = live {
                live.sites.remove(&domain);
                live.counters.forget(domain.as_str());
            }
            if *purge {
                match &settings.events {
                    EventsBackend::DuckDb => Outcome::ok(format!(
                        "removed {domain} and deleted its {} events",
                        removed.events_deleted
                    )),
                    EventsBackend::ClickHouse(servers) => {
                        let shards: Vec<Client> = servers.iter().map(Client::new).collect();
                        let purged = clickhouse::purge::purge(
                            &shards,
                            domain.as_str(),
                            CLICKHOUSE_PURGE_WAIT,
                        )?;
                        if purged.done {
                            Outcome::ok(format!(
                                "removed {domain} and deleted its {} events",
                                purged.events
                            ))
                        } else {
                            Outcome::ok(format!(
                                "removed {domain}; ClickHouse is still deleting its {} events (see system.mutations on each shard)",
                                purged.events
                            ))
                        }
                    }
                }
            } else {
                Outcome::ok(format!(
                    "removed {domain}; new events for it will be dropped. Its recorded events are kept (use --purge to delete them)"
                ))
            }
        }
        Command::SiteTimezone { domain, timezone } => {
            let domain = match site_named(&conn, settings, domain, Reach::StoreOnly)? {
                Ok(domain) => domain,
                Err(message) => return Ok(Outcome::failed(message)),
            };
            let timezone = match validate_timezone(timezone) {
                Ok(tz) => tz,
                Err(e) => return Ok(Outcome::failed(e)),
            };
            sites::set_timezone(&conn, domain.as_str(), &timezone)?;
            refresh_live(&conn, live, &domain)?;
            if let Some(live) = live {
                // Its days are counted again, in the new zone.
                live.counters.forget(domain.as_str());
                if live
                    .sites
                    .get(&domain)
                    .is_some_and(|s| s.settings.public.enabled)
                {
                    live.counters.request_load(domain.as_str());
                }
            }
            Outcome::ok(format!("the time zone of {domain} is {timezone}"))
        }
        Command::SiteRules {
            domain,
            exclude_paths,
            exclude_ips,
            hidden_paths,
        } => {
            let domain = match site_named(&conn, settings, domain, Reach::StoreOnly)? {
                Ok(domain) => domain,
                Err(message) => return Ok(Outcome::failed(message)),
            };
            let tidy = |list: &Vec<String>| -> Vec<String> {
                let mut kept: Vec<String> = Vec::new();
                for item in list.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
                    if !kept.iter().any(|k| k == item) {
                        kept.push(item.to_owned());
                    }
                }
                kept
            };
            let rules = sites::SiteRules {
                exclude_paths: tidy(exclude_paths),
                exclude_ips: tidy(exclude_ips),
                hidden_paths: tidy(hidden_paths),
            };
            if let Err(message) = check_rules(&rules) {
                return Ok(Outcome::failed(message));
            }
            sites::set_rules(&conn, domain.as_str(), &rules)?;
            refresh_live(&conn, live, &domain)?;
            Outcome::ok(format!("saved the rules of {domain}"))
        }
        Command::ShareAdd {
            site,
            id,
            token_hash,
            label,
            password_hash,
        } => {
            let domain = match site_named(&conn, settings, site, Reach::Any)? {
                Ok(domain) => domain,
                Err(message) => return Ok(Outcome::failed(message)),
            };
            let hex = |text: &str, len: usize| {
                text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
            };
            if !hex(id, 8) || !hex(token_hash, 64) {
                return Ok(Outcome::failed(
                    "a link arrives as an 8-digit hex id and its token's 64-digit hex hash",
                ));
            }
            let label = label.trim();
            if label.chars().count() > 100 || label.chars().any(char::is_control) {
                return Ok(Outcome::failed(
                    "a link's label is at most 100 characters on one line",
                ));
            }
            if password_hash
                .as_deref()
                .is_some_and(|h| !h.starts_with("$argon2id$"))
            {
                return Ok(Outcome::failed(
                    "the password must arrive as an argon2id hash",
                ));
            }
            shares::add(
                &conn,
                id,
                token_hash,
                domain.as_str(),
                label,
                password_hash.as_deref(),
            )?;
            Outcome::ok(format!("shared {domain} read-only (link {id})"))
        }
        Command::ShareList { site } => {
            let domain = match site_named(&conn, settings, site, Reach::Any)? {
                Ok(domain) => domain,
                Err(message) => return Ok(Outcome::failed(message)),
            };
            let links = shares::list(&conn, domain.as_str())?;
            if links.is_empty() {
                Outcome::ok(format!("{domain} has no shared links"))
            } else {
                let mut lines = vec![format!(
                    "{:<10} {:<20} {:<9} {:<9} LABEL",
                    "ID", "CREATED", "STATE", "PASSWORD"
                )];
                for link in links {
                    lines.push(format!(
                        "{:<10} {:<20} {:<9} {:<9} {}",
                        link.id,
                        link.created_at.format("%Y-%m-%d %H:%M"),
                        if link.revoked { "revoked" } else { "active" },
                        if link.has_password { "yes" } else { "no" },
                        link.label
                    ));
                }
                Outcome::ok(lines.join("\n"))
            }
        }
        Command::ShareRevoke { site, id } => {
            let domain = match site_named(&conn, settings, site, Reach::Any)? {
                Ok(domain) => domain,
                Err(message) => return Ok(Outcome::failed(message)),
            };
            if shares::revoke(&conn, domain.as_str(), id)? {
                Outcome::ok(format!("revoked link {id}: it now opens nothing"))
            } else {
                Outcome::failed(format!("{domain} has no active link {id}"))
            }
        }
        Command::UserAdd {
            name,
            password_hash,
        } => {
            if let Err(e) = auth::check_name(name) {
                return Ok(Outcome::failed(e.to_string()));
            }
            if !password_hash.starts_with("$argon2id$") {
                return Ok(Outcome::failed(
                    "the password must arrive as an argon2id hash",
                ));
            }
            if !owners::add(&conn, name, password_hash)? {
                return Ok(Outcome::failed(format!("{name} is already an owner")));
            }
            if let Some(live) = live {
                // The first-run link is for a server nobody owns.
                live.setup_token.lock().take();
            }
            Outcome::ok(format!("added owner {name}: sign in at /login"))
        }
        Command::UserPasswd {
            name,
            password_hash,
        } => {
            if !password_hash.starts_with("$argon2id$") {
                return Ok(Outcome::failed(
                    "the password must arrive as an argon2id hash",
                ));
            }
            if !owners::set_password(&conn, name, password_hash)? {
                return Ok(Outcome::failed(format!("{name} is not an owner")));
            }
            Outcome::ok(format!(
                "changed the password of {name}; their sessions ended"
            ))
        }
        Command::UserRemove { name } => {
            if !owners::remove(&conn, name)? {
                return Ok(Outcome::failed(format!("{name} is not an owner")));
            }
            Outcome::ok(format!("removed owner {name}; their sessions ended"))
        }
        Command::UserList => {
            let names = owners::list(&conn)?;
            if names.is_empty() {
                Outcome::ok("no owners yet: add one with `footfall user add NAME`")
            } else {
                Outcome::ok(names.join("\n"))
            }
        }
        Command::KeyCreate { sites: asked } => {
            let mut domains = Vec::new();
            for site in asked {
                let domain = match site_named(&conn, settings, site, Reach::Any)? {
                    Ok(domain) => domain,
                    Err(message) => return Ok(Outcome::failed(message)),
                };
                if !domains.contains(&domain.to_string()) {
                    domains.push(domain.to_string());
                }
            }
            let new = api_keys::generate();
            keys::add(&conn, &new.id, &api_keys::hash(&new.key), &domains)?;
            Outcome::ok(format!(
                "key {} for {}:\n{}\nThis is the only time the key is shown: keep it somewhere safe. \
                 Use it as a bearer token: Authorization: Bearer <key>",
                new.id,
                domains.join(", "),
                new.key
            ))
        }
        Command::KeyList => {
            let stored = keys::list(&conn)?;
            if stored.is_empty() {
                Outcome::ok("no keys yet: make one with `footfall key create --site example.com`")
            } else {
                let mut lines = vec![format!(
                    "{:<10} {:<20} {:<10} SITES",
                    "ID", "CREATED", "STATE"
                )];
                for key in stored {
                    lines.push(format!(
                        "{:<10} {:<20} {:<10} {}",
                        key.id,
                        key.created_at.format("%Y-%m-%d %H:%M"),
                        if key.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        },
                        key.sites.join(", ")
                    ));
                }
                Outcome::ok(lines.join("\n"))
            }
        }
        Command::GoalAdd { site, page, event } | Command::GoalRemove { site, page, event } => {
            let domain = match site_named(&conn, settings, site, Reach::Any)? {
                Ok(domain) => domain,
                Err(message) => return Ok(Outcome::failed(message)),
            };
            let goal = match (page, event) {
                (Some(page), None) => Goal::page(page),
                (None, Some(event)) => Goal::event(event),
                _ => {
                    return Ok(Outcome::failed(
                        "give either --page PATTERN or --event NAME",
                    ))
                }
            };
            let goal = match goal {
                Ok(goal) => goal,
                Err(e) => return Ok(Outcome::failed(e.to_string())),
            };
            let in_file = settings
                .goals
                .get(domain.as_str())
                .is_some_and(|g| g.contains(&goal));
            let adding = matches!(command, Command::GoalAdd { .. });
            match (adding, in_file) {
                (true, true) => Outcome::ok(format!(
                    "{domain} has the goal \"{goal}\" in the config file already"
                )),
                (false, true) => Outcome::failed(format!(
                    "the goal \"{goal}\" of {domain} is declared in the config file: remove it there"
                )),
                (true, false) if goals::add(&conn, domain.as_str(), &goal)? => {
                    Outcome::ok(format!("added the goal \"{goal}\" to {domain}"))
                }
                (true, false) => Outcome::ok(format!("{domain} has the goal \"{goal}\" already")),
                (false, false) if goals::remove(&conn, domain.as_str(), &goal)? => {
                    Outcome::ok(format!("removed the goal \"{goal}\" from {domain}"))
                }
                (false, false) => Outcome::failed(format!(
                    "{domain} has no goal \"{goal}\" (see footfall goal list --site {domain})"
                )),
            }
        }
        Command::GoalList { site } => {
            let domain = match site_named(&conn, settings, site, Reach::Any)? {
                Ok(domain) => domain,
                Err(message) => return Ok(Outcome::failed(message)),
            };
            let mut lines = Vec::new();
            for goal in settings.goals.get(domain.as_str()).into_iter().flatten() {
                lines.push(format!("{goal}  (config file)"));
            }
            for goal in goals::list(&conn, domain.as_str())? {
                lines.push(goal.to_string());
            }
            if lines.is_empty() {
                Outcome::ok(format!(
                    "{domain} has no goals: add one with `footfall goal add --site {domain} --event Signup`"
                ))
            } else {
                Outcome::ok(lines.join("\n"))
            }
        }
        Command::KeyRevoke { id } => {
            if keys::revoke(&conn, id)? {
                Outcome::ok(format!("revoked key {id}: requests with it now get 401"))
            } else {
                Outcome::failed(format!("no active key {id} (see footfall key list)"))
            }
        }
        Command::Dropped { days } => {
            let since = Utc::now().date_naive() - Days::new(u64::from(*days).saturating_sub(1));
            let totals = match &settings.events {
                EventsBackend::DuckDb => drops::totals_since(&conn, since)?,
                EventsBackend::ClickHouse(servers) => {
                    ClickHouseReader::new(Client::new(&servers[0])).dropped_since(since)?
                }
            };
            if totals.is_empty() {
                Outcome::ok(format!("no events were dropped in the last {days} days"))
            } else {
                let mut lines = vec![format!("{:<40} {:<14} {:>12}", "SITE", "REASON", "EVENTS")];
                for t in totals {
                    let site = if t.site.is_empty() {
                        "(none)"
                    } else {
                        t.site.as_str()
                    };
                    lines.push(format!(
                        "{:<40} {:<14} {:>12}",
                        site,
                        t.reason.as_str(),
                        t.count
                    ));
                }
                Outcome::ok(lines.join("\n"))
            }
        }
    })
}

/// Serves commands on the socket until the task is dropped.
pub async fn serve(listener: tokio::net::UnixListener, app: Arc<App>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let mut reader = tokio::io::BufReader::new(read).take(64 * 1024);
            if reader.read_line(&mut line).await.is_err() {
                return;
            }
            let outcome = match serde_json::from_str::<Command>(&line) {
                Ok(command) => tokio::task::spawn_blocking(move || {
                    execute(
                        &command,
                        &app.store,
                        &app.settings,
                        Some(Live {
                            sites: app.collector.sites(),
                            counters: &app.counters,
                            setup_token: &app.setup_token,
                        }),
                    )
                })
                .await
                .unwrap_or_else(|e| Outcome::failed(format!("command failed: {e}"))),
                Err(e) => Outcome::failed(format!("not a command: {e}")),
            };
            let mut reply = serde_json::to_string(&outcome).unwrap_or_default();
            reply.push('\n');
            let _ = write.write_all(reply.as_bytes()).await;
        });
    }
}

/// Binds the command socket, owner-only. A stale socket file from a crashed server is replaced;
/// a live one means another server is using this data directory.
pub fn bind(path: &Path) -> anyhow::Result<tokio::net::UnixListener> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!(
                "another footfall server is running with this data directory ({} answers)",
                path.display()
            );
        }
        std::fs::remove_file(path)?;
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Sends a command to a running server. `None` when no server answers on the socket.
pub fn send(path: &Path, command: &Command) -> Option<anyhow::Result<Outcome>> {
    let mut stream = std::os::unix::net::UnixStream::connect(path).ok()?;
    Some((|| {
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut line = serde_json::to_string(command)?;
        line.push('\n');
        stream.write_all(line.as_bytes())?;
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply)?;
        Ok(serde_json::from_str(&reply)?)
    })())
}
