//! Shared links: `/share/TOKEN` shows one site's dashboard read-only to whoever has the link
//! (with `?embed=true`, framed in another site's page). A link with a password asks for it
//! first and then remembers it in a cookie made from the token and the password's hash, so
//! changing or revoking the link ends it. A request that carries a link's token reaches the
//! shared view's routes only: [`read_only_links`] refuses every other with 403.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use footfall_dashboard::assets::{self, fill};
use footfall_queries::shares::OpenLink;
use serde::Deserialize;

use super::owner::{page_with_policy, password_work, retry_after, secure, PAGE_POLICY};
use super::view::{open_link, share_token};
use crate::app::App;
use crate::auth;
use crate::error::AppError;

/// A shared view may be framed by any site when it asks for `embed=true`: it changes nothing.
const EMBED_POLICY: &str = "default-src 'self'; base-uri 'none'; form-action 'self'";
/// How long a link's password is remembered.
const UNLOCK_DAYS: i64 = 30;

#[derive(Deserialize)]
pub struct Shown {
    #[serde(default)]
    embed: Option<String>,
}

impl Shown {
    fn embedded(&self) -> bool {
        self.embed.as_deref() == Some("true")
    }

    /// Framable by any page when embedded; otherwise by none, as every dashboard page.
    fn policy(&self) -> &'static str {
        if self.embedded() {
            EMBED_POLICY
        } else {
            PAGE_POLICY
        }
    }
}

fn cookie_name(link: &OpenLink) -> String {
    format!("footfall_share_{}", link.id)
}

/// What the cookie of an unlocked link holds: when it ends, and a MAC of that and the stored
/// password hash under the token's hash, so only someone who knows the token and the hash can
/// make one, it ends when it says (whatever the browser keeps), and a new password ends it.
fn unlock_value(token: &str, password_hash: &str, expires: i64) -> String {
    let mac = blake3::keyed_hash(
        blake3::hash(token.as_bytes()).as_bytes(),
        format!("{expires}\n{password_hash}").as_bytes(),
    );
    format!("{expires}.{}", mac.to_hex())
}

/// Whether the request may see the link's site: it has no password, or it carries an unexpired
/// cookie its password gave.
pub fn unlocked(headers: &HeaderMap, token: &str, link: &OpenLink, now: i64) -> bool {
    let Some(hash) = &link.password_hash else {
        return true;
    };
    let Some(value) = auth::cookie_value(headers, &cookie_name(link)) else {
        return false;
    };
    let Some(expires) = value
        .split_once('.')
        .and_then(|(expires, _)| expires.parse::<i64>().ok())
    else {
        return false;
    };
    let expected = unlock_value(token, hash, expires);
    expires > now && blake3::hash(value.as_bytes()) == blake3::hash(expected.as_bytes())
}

fn not_found() -> AppError {
    AppError::NotFound("this shared link does not exist or was revoked".into())
}

fn password_page(status: StatusCode, shown: &Shown, message: &str) -> Response {
    page_with_policy(
        status,
        fill(
            assets::SHARE_HTML,
            &[
                ("embed", if shown.embedded() { "true" } else { "" }),
                ("message", message),
            ],
        ),
        shown.policy(),
    )
}

/// `GET /share/TOKEN`: the dashboard, read-only, or the link's password form.
pub async fn get_share(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    Query(shown): Query<Shown>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let link = open_link(&app, &token).await?.ok_or_else(not_found)?;
    if !unlocked(&headers, &token, &link, app.collector.now().timestamp()) {
        return Ok(password_page(StatusCode::OK, &shown, ""));
    }
    Ok(page_with_policy(
        StatusCode::OK,
        assets::INDEX_HTML.to_owned(),
        shown.policy(),
    ))
}

#[derive(Deserialize)]
pub struct Unlock {
    password: String,
    #[serde(default)]
    embed: String,
}

/// `POST /share/TOKEN`: the link's password. Failures count against the client's address as
/// sign-ins do, and against the link as against an owner's name.
pub async fn post_share(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Unlock>,
) -> Result<Response, AppError> {
    let link = open_link(&app, &token).await?.ok_or_else(not_found)?;
    let shown = Shown {
        embed: Some(form.embed.clone()),
    };
    let Some(hash) = link.password_hash.clone() else {
        return Ok(Redirect::to(&format!("/share/{token}")).into_response());
    };
    let address = app.settings.client_ip.client_ip(peer.ip(), &headers);
    let attempt = match app
        .login_limits
        .attempt(address, &format!("share:{}", link.id))
    {
        Ok(attempt) => attempt,
        Err(refusal) => {
            let wait = refusal.wait();
            let message = format!(
                "Too many wrong passwords: try again in {} seconds.",
                wait.as_secs().max(1)
            );
            return Ok(retry_after(
                password_page(StatusCode::TOO_MANY_REQUESTS, &shown, &message),
                wait,
            ));
        }
    };
    let stored = hash.clone();
    let matches = match password_work(&app, move || {
        auth::verify_password(&form.password, Some(&stored))
    })
    .await
    {
        Ok(matches) => matches,
        // Not checked (the server busy): it counts for nothing, either way.
        Err(e) => {
            app.login_limits.abandoned(attempt);
            return Err(e);
        }
    };
    if !matches {
        app.login_limits.failed(attempt);
        return Ok(password_page(
            StatusCode::UNAUTHORIZED,
            &shown,
            "Wrong password.",
        ));
    }
    app.login_limits.succeeded(attempt);
    let target = if shown.embedded() {
        format!("/share/{token}?embed=true")
    } else {
        format!("/share/{token}")
    };
    let mut response = Redirect::to(&target).into_response();
    // Lax, not Strict: a link is opened from mail and chats, which are other sites.
    let cookie = format!(
        "{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        cookie_name(&link),
        unlock_value(
            &token,
            &hash,
            app.collector.now().timestamp() + UNLOCK_DAYS * 86_400
        ),
        UNLOCK_DAYS * 86_400,
        if secure(&app) { "; Secure" } else { "" }
    );
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("hex and fixed text"),
    );
    Ok(response)
}

/// Keeps a shared link's token to the shared view: a request carrying one (the header the view's
/// fetches send, or `share=` in a download's URL) gets 403 anywhere else, whatever else it
/// carries, so a link can never reach a route that changes something.
pub async fn read_only_links(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let shared_view = path.starts_with("/api/share/")
        || path.starts_with("/share/")
        || path.starts_with("/assets/");
    if !shared_view && share_token(request.headers(), request.uri().query()).is_some() {
        return AppError::Forbidden("a shared link is read-only: it cannot reach this".into())
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(password_hash: Option<&str>) -> OpenLink {
        OpenLink {
            id: "0123abcd".into(),
            site: "example.com".into(),
            label: String::new(),
            password_hash: password_hash.map(str::to_owned),
        }
    }

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; footfall_share_0123abcd={value}")).unwrap(),
        );
        headers
    }

    #[test]
    fn an_unlock_cookie_opens_its_link_until_it_ends_or_the_password_changes() {
        let (token, hash, now) = ("a".repeat(64), "$argon2id$one", 1_000_000);
        let good = unlock_value(&token, hash, now + 60);
        assert!(unlocked(
            &with_cookie(&good),
            &token,
            &link(Some(hash)),
            now
        ));
        assert!(
            unlocked(&HeaderMap::new(), &token, &link(None), now),
            "no password"
        );
        assert!(!unlocked(&HeaderMap::new(), &token, &link(Some(hash)), now));
        // Expired, with its end moved, for another token, or after a new password: refused.
        assert!(!unlocked(
            &with_cookie(&good),
            &token,
            &link(Some(hash)),
            now + 61
        ));
        let (_, mac) = good.split_once('.').unwrap();
        let moved = format!("{}.{mac}", now + 999_999);
        assert!(!unlocked(
            &with_cookie(&moved),
            &token,
            &link(Some(hash)),
            now
        ));
        assert!(!unlocked(
            &with_cookie(&good),
            &"b".repeat(64),
            &link(Some(hash)),
            now
        ));
        assert!(!unlocked(
            &with_cookie(&good),
            &token,
            &link(Some("$argon2id$two")),
            now
        ));
        assert!(!unlocked(
            &with_cookie("garbage"),
            &token,
            &link(Some(hash)),
            now
        ));
    }
}
