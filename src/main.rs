use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use footfall::admin::{self, Command as AdminCommand};
use footfall::app::App;
use footfall::cli::{
    Backend, Cli, Command, GoalCommand, KeyCommand, ShareCommand, SiteCommand, UserCommand,
};
use footfall::config::{self, Overrides, Settings};
use footfall::server;
use footfall_queries::clickhouse::{self, Client};
use footfall_queries::{Store, StoreError};

/// mimalloc instead of glibc's allocator: every hit is allocated on an HTTP thread and freed on
/// the writer's, a pattern glibc handles with locks and consolidation that cost the ingest path
/// about a tenth of its time (see benches/README.md). Its `override` feature puts DuckDB's C++
/// on it too (see `footfall::memory`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    footfall::memory::tune_allocator();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("footfall: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        config: cli.global.config.clone(),
        listen: cli.global.listen.clone(),
        data_dir: cli.global.data_dir.clone(),
    };
    let (settings, ignored) = config::load(&overrides, std::env::vars())?;
    init_logging(&settings);
    for var in ignored {
        tracing::warn!("ignoring environment variable {var}: it names no setting");
    }
    // A new shared link's address: printed once, only its hash is kept.
    let mut link = None;
    let command = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => return serve(settings),
        Command::Site(SiteCommand::Add {
            domain,
            timezone,
            public_counters,
        }) => AdminCommand::SiteAdd {
            domain,
            timezone,
            public_counters,
        },
        Command::Site(SiteCommand::Counters { domain, state }) => AdminCommand::SiteCounters {
            domain,
            enabled: state == "on",
        },
        Command::Site(SiteCommand::List) => AdminCommand::SiteList,
        Command::Site(SiteCommand::Timezone { domain, timezone }) => {
            AdminCommand::SiteTimezone { domain, timezone }
        }
        Command::Site(SiteCommand::Rules {
            domain,
            exclude_paths,
            exclude_ips,
            hidden_paths,
        }) => AdminCommand::SiteRules {
            domain,
            exclude_paths,
            exclude_ips,
            hidden_paths,
        },
        Command::Share(ShareCommand::Add {
            site,
            label,
            password,
        }) => {
            let token = footfall::auth::new_token();
            link = Some(format!(
                "{}/share/{token}",
                if settings.public_url.is_empty() {
                    "https://YOUR-FOOTFALL-HOST"
                } else {
                    settings.public_url.trim_end_matches('/')
                }
            ));
            AdminCommand::ShareAdd {
                site,
                id: token[..8].to_owned(),
                token_hash: footfall::auth::token_hash(&token),
                label,
                password_hash: if password {
                    Some(hashed_password("link password")?)
                } else {
                    None
                },
            }
        }
        Command::Share(ShareCommand::List { site }) => AdminCommand::ShareList { site },
        Command::Share(ShareCommand::Revoke { site, id }) => AdminCommand::ShareRevoke { site, id },
        Command::Site(SiteCommand::Remove { domain, purge }) => {
            AdminCommand::SiteRemove { domain, purge }
        }
        Command::Dropped { days } => AdminCommand::Dropped { days },
        Command::Migrate { from, to } => return migrate(&settings, from, to),
        Command::User(UserCommand::Add { name }) => AdminCommand::UserAdd {
            password_hash: new_password(&name)?,
            name,
        },
        Command::User(UserCommand::Passwd { name }) => AdminCommand::UserPasswd {
            password_hash: new_password(&name)?,
            name,
        },
        Command::User(UserCommand::Remove { name }) => AdminCommand::UserRemove { name },
        Command::User(UserCommand::List) => AdminCommand::UserList,
        Command::Key(KeyCommand::Create { sites }) => AdminCommand::KeyCreate { sites },
        Command::Key(KeyCommand::List) => AdminCommand::KeyList,
        Command::Key(KeyCommand::Revoke { id }) => AdminCommand::KeyRevoke { id },
        Command::Goal(GoalCommand::Add { site, goal }) => AdminCommand::GoalAdd {
            site,
            page: goal.page,
            event: goal.event,
        },
        Command::Goal(GoalCommand::List { site }) => AdminCommand::GoalList { site },
        Command::Goal(GoalCommand::Remove { site, goal }) => AdminCommand::GoalRemove {
            site,
            page: goal.page,
            event: goal.event,
        },
    };
    let outcome = match admin::send(&admin::socket_path(&settings), &command) {
        Some(reply) => reply.context("the running server did not answer the command")?,
        None => {
            std::fs::create_dir_all(&settings.data_dir).with_context(|| {
                format!(
                    "cannot create the data directory {}",
                    settings.data_dir.display()
                )
            })?;
            let store = Store::open(&settings.database, &settings.store).map_err(|e| match e {
                StoreError::Locked { .. } => anyhow::anyhow!(
                    "{e}; a server using it does not answer on {}",
                    admin::socket_path(&settings).display()
                ),
                other => other.into(),
            })?;
            admin::execute(&command, &store, &settings, None)
        }
    };
    if outcome.ok {
        println!("{}", outcome.message);
        if let Some(link) = link {
            println!(
                "{link}\nThis is the only time the address is shown; add ?embed=true to frame it."
            );
        }
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("footfall: {}", outcome.message);
        Ok(ExitCode::FAILURE)
    }
}

/// `footfall migrate`: the DuckDB file's events into ClickHouse, with the counts checked.
fn migrate(settings: &Settings, from: Backend, to: Backend) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        (from, to) == (Backend::Duckdb, Backend::Clickhouse),
        "only --from duckdb --to clickhouse is supported"
    );
    anyhow::ensure!(
        !settings.clickhouse.is_empty(),
        "[clickhouse] shards is empty: list the servers to copy into (footfall.example.toml)"
    );
    let store = Store::open(&settings.database, &settings.store).map_err(|e| match e {
        StoreError::Locked { .. } => {
            anyhow::anyhow!("{e}: stop the server before migrating its events")
        }
        other => other.into(),
    })?;
    let shards: Vec<Client> = settings.clickhouse.iter().map(Client::new).collect();
    let started = std::time::Instant::now();
    let migrated = clickhouse::migrate::migrate(&store.connection()?, &shards, |sent| {
        eprintln!("{sent} events sent");
    })?;
    for (site, events) in &migrated.sites {
        println!("{site}: {events} events in DuckDB and in ClickHouse");
    }
    println!(
        "copied {} events and {} drop counts to {} shard(s) in {:.1?}; set store.backend = \"clickhouse\" to use them",
        migrated.events,
        migrated.drop_rows,
        shards.len(),
        started.elapsed()
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads a new owner's password and returns its hash.
fn new_password(name: &str) -> anyhow::Result<String> {
    footfall::auth::check_name(name)?;
    hashed_password(&format!("password for {name}"))
}

/// Reads a new password (a prompt twice on a terminal, else one line of standard input) and
/// returns its hash: the password itself goes nowhere.
fn hashed_password(prompt: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("{prompt}: "))?;
        let again = rpassword::prompt_password("again: ")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    Ok(footfall::auth::hash_password(&password)?)
}

fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = server::bind(settings.listen)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let app = App::start(settings)?;
        server::run(listener, app, server::stop_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

fn init_logging(settings: &Settings) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| settings.log.clone());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
