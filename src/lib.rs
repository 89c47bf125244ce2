//! # footfall
//!
//! The server: the only part of Footfall that knows HTTP. It reads the configuration, wires the
//! collector, the writer and the store together, serves the routes, and stops gracefully. The
//! work itself happens in `footfall-collector` (requests → events) and `footfall-queries` (the
//! store).
//!
//! ## Layout
//! - [`cli`]: the command line (clap).
//! - [`config`]: defaults, file, `FOOTFALL_*` environment, flags → validated [`config::Settings`].
//! - [`app`]: the shared state, built from settings.
//! - [`routes`]: the router and its thin handlers.
//! - [`assets`]: static files (the tracker) precompressed, with revalidation.
//! - [`client_ip`]: which address is the client's, given trusted proxies.
//! - [`rate_limit`]: per-client limits on the public endpoints (429 with `Retry-After`).
//! - [`error`]: [`error::AppError`], the handlers' one error type.
//! - [`server`]: `run(listener, app, shutdown)`: the accept loop with its connection limit and
//!   timeouts, graceful stop, and the stop signal.
//! - [`admin`]: owner commands, over a Unix socket when the server runs.
//! - [`auth`]: owner sign-ins (argon2id passwords, session tokens, limits on guessing).
//! - [`api_keys`]: Stats API keys (made, hashed, read from requests) and their rate limit.
//! - [`memory`]: where the process's memory is, logged at debug level for long runs.

pub mod admin;
pub mod api_keys;
pub mod app;
pub mod assets;
pub mod auth;
pub mod cli;
pub mod client_ip;
pub mod config;
pub mod error;
pub mod memory;
pub mod rate_limit;
pub mod routes;
pub mod server;
