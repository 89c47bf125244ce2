//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "footfall", version, about = "Privacy-first, cookieless web analytics", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Config file (default: ./footfall.toml if it exists; see footfall.example.toml).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address and port to listen on, e.g. 127.0.0.1:8800.
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Directory for the database and the command socket.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Manage the sites whose events are recorded.
    #[command(subcommand)]
    Site(SiteCommand),
    /// Manage the keys of the Stats API (/api/v2/query).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage a site's goals: pages and events that count as conversions.
    #[command(subcommand)]
    Goal(GoalCommand),
    /// Manage the owners who may sign in to the dashboard.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the secret links that show one site's dashboard read-only.
    #[command(subcommand)]
    Share(ShareCommand),
    /// Copy the events (and drop counts) of one store into another and check the counts per
    /// site: from the data directory's DuckDB file into the servers of `[clickhouse]`. Stop the
    /// server first; then set `store.backend = "clickhouse"` and start it again.
    Migrate {
        #[arg(long, value_enum)]
        from: Backend,
        #[arg(long, value_enum)]
        to: Backend,
    },
    /// Show how many events were not recorded, and why.
    Dropped {
        /// How many days back, today included.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=36_500))]
        days: u32,
    },
}

/// Where events can be kept (`store.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Duckdb,
    Clickhouse,
}

/// Passwords are read from a prompt (or from standard input when it is not a terminal), never
/// from the command line, where other users of the machine could see them.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an owner.
    Add { name: String },
    /// Change an owner's password; their sessions end.
    Passwd { name: String },
    /// Remove an owner; their sessions end.
    Remove { name: String },
    /// List the owners.
    List,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Make a key that may read the given sites' stats. It is printed once and never again.
    Create {
        /// A registered site the key may read; repeat for several.
        #[arg(long = "site", required = true, value_name = "DOMAIN")]
        sites: Vec<String>,
    },
    /// List the keys (their ids and sites, never the keys themselves).
    List,
    /// Revoke a key at once.
    Revoke {
        /// The key's id, as `key list` shows it.
        id: String,
    },
}

/// A goal on the command line: a page pattern or an event name.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct GoalArgs {
    /// A page goal: pageviews of paths matching the pattern (* within one segment, ** across).
    #[arg(long, value_name = "PATTERN")]
    pub page: Option<String>,
    /// An event goal: custom events of this name.
    #[arg(long, value_name = "NAME")]
    pub event: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum GoalCommand {
    /// Add a goal to a site.
    Add {
        #[arg(long = "site", value_name = "DOMAIN")]
        site: String,
        #[command(flatten)]
        goal: GoalArgs,
    },
    /// List a site's goals, those of the config file included.
    List {
        #[arg(long = "site", value_name = "DOMAIN")]
        site: String,
    },
    /// Remove a goal added with `goal add` (goals of the config file are edited there).
    Remove {
        #[arg(long = "site", value_name = "DOMAIN")]
        site: String,
        #[command(flatten)]
        goal: GoalArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Register a site: events whose domain is not registered are dropped.
    Add {
        /// The site's domain, e.g. example.com (www. is ignored).
        domain: String,
        /// IANA time zone for the site's reports.
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// Let pages show its hit counts without a key (/api/counter, badges, charts).
        #[arg(long)]
        public_counters: bool,
    },
    /// Turn a site's public hit counts on or off (a site added with `site add`; the config
    /// file's sites say `public_counters = true` there).
    Counters {
        domain: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Change the time zone of a site added with `site add`.
    Timezone { domain: String, timezone: String },
    /// Replace the rules of a site added with `site add` (no option clears them all).
    Rules {
        domain: String,
        /// A path glob never recorded; repeat for several.
        #[arg(long = "exclude-path", value_name = "PATTERN")]
        exclude_paths: Vec<String>,
        /// A client address or CIDR network never recorded; repeat for several.
        #[arg(long = "exclude-ip", value_name = "NETWORK")]
        exclude_ips: Vec<String>,
        /// A path glob whose public counts are never shown; repeat for several.
        #[arg(long = "hidden-path", value_name = "PATTERN")]
        hidden_paths: Vec<String>,
    },
    /// List the registered sites.
    List,
    /// Stop recording a site. Its events are kept unless --purge is given.
    Remove {
        domain: String,
        /// Also delete every recorded event of the site.
        #[arg(long)]
        purge: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// Make a link to a read-only view of the site. Its address is printed once.
    Add {
        #[arg(long = "site", value_name = "DOMAIN")]
        site: String,
        /// What the link is for, as the settings list it.
        #[arg(long, default_value = "")]
        label: String,
        /// Ask for a password the link's visitors must give (read from a prompt or stdin).
        #[arg(long)]
        password: bool,
    },
    /// List a site's links (their ids and labels, never their addresses).
    List {
        #[arg(long = "site", value_name = "DOMAIN")]
        site: String,
    },
    /// Revoke a link at once.
    Revoke {
        #[arg(long = "site", value_name = "DOMAIN")]
        site: String,
        /// The link's id, as `share list` shows it.
        id: String,
    },
}
