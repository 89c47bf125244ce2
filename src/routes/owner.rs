//! The owner's side: signing in and out, the first-run setup, and the dashboard's page and data.
//!
//! A session is a random token in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` behind an
//! https `public_url`), stored as a hash, so logout and expiry hold across restarts; every
//! sign-in makes a new one and ends the one the browser sent. Requests that change anything pass
//! [`same_origin`] first.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use chrono::Duration;
use footfall_dashboard::assets::{self, fill};
use footfall_queries::owners;
use serde::Deserialize;
use serde_json::{json, Value};

use super::stats::blocking;
use crate::app::App;
use crate::auth::{self, Refusal, SESSION_DAYS};
use crate::error::AppError;

/// No script but the dashboard's own files, no framing, forms only to this server.
pub(super) const PAGE_POLICY: &str =
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const WRONG: &str = "Wrong name or password.";

/// An HTML page with the headers every dashboard page gets.
pub(super) fn page(status: StatusCode, html: String) -> Response {
    page_with_policy(status, html, PAGE_POLICY)
}

/// The same, under another Content-Security-Policy (a shared view that may be framed).
pub(super) fn page_with_policy(status: StatusCode, html: String, policy: &'static str) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, policy),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// An owner's data: never kept by a cache.
pub(super) fn private(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn login_page(status: StatusCode, message: &str) -> Response {
    page(status, fill(assets::LOGIN_HTML, &[("message", message)]))
}

/// Whether owners reach the server over https (then the cookie is `Secure` and `__Host-`).
pub(super) fn secure(app: &App) -> bool {
    app.settings.public_url.starts_with("https://")
}

/// The signed-in owner's name, if the request carries a live session.
pub async fn signed_in(app: &Arc<App>, headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(token) = auth::session_token(headers, auth::cookie_name(secure(app))) else {
        return Ok(None);
    };
    let hash = auth::token_hash(&token);
    let now = app.collector.now();
    blocking(app, move |conn| {
        Ok(owners::session_owner(conn, &hash, now)?)
    })
    .await
}

/// Refuses a request that changes something when it comes from another site: the browser says
/// so in `Sec-Fetch-Site`, or its `Origin` is not this server's (`public_url` when set, else the
/// `Host` the request was sent to).
pub async fn same_origin(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let cross_fetch = text("sec-fetch-site").is_some_and(|s| s != "same-origin" && s != "none");
    let host = text("host").unwrap_or_default();
    let public = app.settings.public_url.as_str();
    let cross_origin = text("origin").is_some_and(|origin| {
        if !public.is_empty() {
            return !origin.eq_ignore_ascii_case(public);
        }
        let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
        origin == "null" || !origin_host.eq_ignore_ascii_case(host)
    });
    if cross_fetch || cross_origin {
        return AppError::Forbidden("cross-site requests cannot change anything here".into())
            .into_response();
    }
    next.run(request).await
}

pub async fn get_home(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    owner_page(&app, &headers, assets::INDEX_HTML).await
}

/// A page for signed-in owners; anyone else is sent to the sign-in page.
pub(super) async fn owner_page(
    app: &Arc<App>,
    headers: &HeaderMap,
    html: &str,
) -> Result<Response, AppError> {
    Ok(match signed_in(app, headers).await? {
        Some(_) => page(StatusCode::OK, html.to_owned()),
        None => Redirect::to("/login").into_response(),
    })
}

pub async fn get_login(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    Ok(match signed_in(&app, &headers).await? {
        Some(_) => Redirect::to("/").into_response(),
        None => login_page(StatusCode::OK, ""),
    })
}

#[derive(Deserialize)]
pub struct Credentials {
    name: String,
    password: String,
}

pub async fn post_login(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Result<Response, AppError> {
    let address = app.settings.client_ip.client_ip(peer.ip(), &headers);
    let name = form.name.trim().to_owned();
    let attempt = match app.login_limits.attempt(address, &name) {
        Ok(attempt) => attempt,
        Err(refusal) => {
            let (wait, message) = match refusal {
                Refusal::Address(wait) => (
                    wait,
                    format!(
                        "Too many failed sign-ins from your address: try again in {} minutes.",
                        wait.as_secs().div_ceil(60).max(1)
                    ),
                ),
                Refusal::Name(wait) => (
                    wait,
                    "A sign-in with this name failed a moment ago or is under way: try again in \
                     a few seconds."
                        .to_owned(),
                ),
            };
            return Ok(retry_after(
                login_page(StatusCode::TOO_MANY_REQUESTS, &message),
                wait,
            ));
        }
    };
    let lookup = name.clone();
    let checked = async {
        let stored = blocking(&app, move |conn| Ok(owners::password_hash(conn, &lookup)?)).await?;
        password_work(&app, move || {
            auth::verify_password(&form.password, stored.as_deref())
        })
        .await
    }
    .await;
    // A password that could not be checked (the server busy, the store failing) counts for
    // nothing, either way.
    let matches = match checked {
        Ok(matches) => matches,
        Err(e) => {
            app.login_limits.abandoned(attempt);
            return Err(e);
        }
    };
    if !matches {
        app.login_limits.failed(attempt);
        return Ok(login_page(StatusCode::UNAUTHORIZED, WRONG));
    }
    app.login_limits.succeeded(attempt);
    // Every sign-in makes a new token, and the one this browser sent (if any) ends: a token that
    // was seen or set before the sign-in never outlives it.
    end_session(&app, &headers).await?;
    start_session(&app, name).await
}

/// Ends the session whose token the request carries, if any.
async fn end_session(app: &Arc<App>, headers: &HeaderMap) -> Result<(), AppError> {
    if let Some(token) = auth::session_token(headers, auth::cookie_name(secure(app))) {
        let hash = auth::token_hash(&token);
        let now = app.collector.now();
        blocking(app, move |conn| Ok(owners::end_session(conn, &hash, now)?)).await?;
    }
    Ok(())
}

/// A refusal's response, with when to try again.
pub(super) fn retry_after(mut response: Response, wait: std::time::Duration) -> Response {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(wait.as_secs().max(1)),
    );
    response
}

/// Runs argon2 work (a hash or a check) off the async threads. Each costs 19 MiB and tens of
/// milliseconds, so only a few run at once, whoever asks; the others get 503 and a second to wait.
pub(super) async fn password_work<T: Send + 'static>(
    app: &App,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let Ok(_permit) = app.password_checks.clone().try_acquire_owned() else {
        return Err(AppError::Unavailable {
            reason: "too many password checks at once: try again in a second".into(),
            retry_after_secs: 1,
        });
    };
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password work failed: {e}")))
}

/// The signed-in owner's name, or 401.
pub(super) async fn require_owner(app: &Arc<App>, headers: &HeaderMap) -> Result<String, AppError> {
    signed_in(app, headers)
        .await?
        .ok_or_else(|| AppError::Unauthorized("sign in at /login".into()))
}

/// Signs `owner` in: a new token, stored as a hash, in the cookie; then the dashboard.
async fn start_session(app: &Arc<App>, owner: String) -> Result<Response, AppError> {
    let token = auth::new_token();
    let hash = auth::token_hash(&token);
    let now = app.collector.now();
    let expires = now + Duration::days(SESSION_DAYS);
    blocking(app, move |conn| {
        Ok(owners::start_session(conn, &hash, &owner, now, expires)?)
    })
    .await?;
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&session_cookie(app, &token, SESSION_DAYS * 86_400))
            .expect("hex and fixed text"),
    );
    Ok(response)
}

fn session_cookie(app: &App, token: &str, max_age: i64) -> String {
    let flag = if secure(app) { "; Secure" } else { "" };
    let name = auth::cookie_name(secure(app));
    format!("{name}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{flag}")
}

pub async fn post_logout(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    end_session(&app, &headers).await?;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&session_cookie(&app, "", 0)).expect("fixed text"),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub struct SetupLink {
    #[serde(default)]
    token: String,
}

/// Whether `token` is the pending first-run token (compared as hashes, in constant time).
fn setup_pending(app: &App, token: &str) -> bool {
    app.setup_token
        .lock()
        .as_deref()
        .is_some_and(|pending| blake3::hash(pending.as_bytes()) == blake3::hash(token.as_bytes()))
}

fn no_setup() -> AppError {
    AppError::NotFound("there is no first-run setup to do: sign in at /login".into())
}

fn setup_page(status: StatusCode, token: &str, message: &str) -> Response {
    page(
        status,
        fill(
            assets::SETUP_HTML,
            &[("token", token), ("message", message)],
        ),
    )
}

pub async fn get_setup(
    State(app): State<Arc<App>>,
    Query(link): Query<SetupLink>,
) -> Result<Response, AppError> {
    if !setup_pending(&app, &link.token) {
        return Err(no_setup());
    }
    Ok(setup_page(StatusCode::OK, &link.token, ""))
}

#[derive(Deserialize)]
pub struct Setup {
    token: String,
    name: String,
    password: String,
}

pub async fn post_setup(
    State(app): State<Arc<App>>,
    Form(form): Form<Setup>,
) -> Result<Response, AppError> {
    // The link is taken now, so two requests cannot both use it; it is put back only when the
    // form needs correcting.
    if !setup_pending(&app, &form.token) {
        return Err(no_setup());
    }
    let Some(token) = app.setup_token.lock().take() else {
        return Err(no_setup());
    };
    let retry = |message: &str| {
        *app.setup_token.lock() = Some(token.clone());
        Ok(setup_page(StatusCode::BAD_REQUEST, &token, message))
    };
    let name = form.name.trim().to_owned();
    if let Err(e) = auth::check_name(&name) {
        return retry(&e.to_string());
    }
    let password = form.password;
    let hash = match password_work(&app, move || auth::hash_password(&password)).await? {
        Ok(hash) => hash,
        Err(e) => return retry(&e.to_string()),
    };
    // Only while nobody owns the server: the link cannot add a second owner.
    let owner = name.clone();
    let created = blocking(&app, move |conn| {
        Ok(owners::add_first(conn, &owner, &hash)?)
    })
    .await?;
    if !created {
        return Err(no_setup());
    }
    tracing::info!("first owner {name} created through the setup link");
    start_session(&app, name).await
}

/// `GET /api/dashboard/me`: the signed-in owner and their sites, from the live registry (no
/// store work: it is on the path of every dashboard load).
pub async fn get_me(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, AppError> {
    let owner = require_owner(&app, &headers).await?;
    let sites: Vec<Value> = app
        .collector
        .sites()
        .all()
        .iter()
        .map(|site| {
            let s = &site.settings;
            json!({"domain": s.domain.as_str(), "timezone": s.timezone,
                "public_counters": s.public.enabled})
        })
        .collect();
    Ok(private(
        Json(json!({"owner": owner, "sites": sites})).into_response(),
    ))
}

/// The dashboard's own files, revalidated by entity tag (their URLs carry no version).
pub async fn get_asset(
    axum::extract::Path(file): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    use std::sync::LazyLock;

    use crate::assets::Asset;
    static FILES: LazyLock<Vec<(&str, Asset)>> = LazyLock::new(|| {
        assets::FILES
            .iter()
            .map(|(name, kind, body)| (*name, Asset::hashed(body.as_bytes(), kind, "no-cache")))
            .collect()
    });
    let (_, found) = FILES
        .iter()
        .find(|(name, _)| *name == file)
        .ok_or_else(|| AppError::NotFound(format!("no asset {file:?}")))?;
    Ok(found.respond(&headers))
}
