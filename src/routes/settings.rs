//! The owner's settings: sites, their time zone, goals, public counters and hidden paths,
//! excluded paths and IP ranges, the snippet to paste, and shared links. Every change runs the
//! same [`admin`] command the command line sends, so both check the same rules and update the
//! running server the same way.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use footfall_dashboard::assets;
use footfall_queries::stats::Goal;
use footfall_queries::{goals, shares};
use serde::Deserialize;
use serde_json::{json, Value};

use super::owner::{owner_page, password_work, private, require_owner};
use super::stats::blocking;
use super::view::registered_site;
use crate::admin::{self, Command, Live};
use crate::app::App;
use crate::auth;
use crate::error::AppError;

/// `GET /settings`: the settings page (its script loads the rest).
pub async fn get_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    owner_page(&app, &headers, assets::SETTINGS_HTML).await
}

#[derive(Deserialize)]
pub struct Which {
    site: String,
}

/// Where this server is reached from the owner's sites: `public_url`, else the host the
/// request came to.
fn base_url(app: &App, headers: &HeaderMap) -> String {
    if !app.settings.public_url.is_empty() {
        return app.settings.public_url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let local = host.starts_with("localhost") || host.starts_with("127.") || host.starts_with('[');
    format!("{}://{host}", if local { "http" } else { "https" })
}

/// `GET /api/dashboard/settings?site=DOMAIN`: one site's settings, goals and shared links.
pub async fn get_settings(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(which): Query<Which>,
) -> Result<Response, AppError> {
    require_owner(&app, &headers).await?;
    let site = registered_site(&app, &which.site)?;
    let settings = site.settings.clone();
    let domain = settings.domain.to_string();
    let in_config = app
        .settings
        .sites
        .iter()
        .any(|s| s.domain == settings.domain);
    let file_goals = app.settings.goals.get(&domain).cloned().unwrap_or_default();
    let lookup = domain.clone();
    let (stored_goals, links) = blocking(&app, move |conn| {
        Ok((goals::list(conn, &lookup)?, shares::list(conn, &lookup)?))
    })
    .await?;
    let goal = |goal: &Goal, from_file: bool| {
        let (page, event) = match goal {
            Goal::Page(pattern) => (Some(pattern.as_str()), None),
            Goal::Event(name) => (None, Some(name.as_str())),
        };
        json!({"name": goal.display_name(), "page": page, "event": event, "in_config": from_file})
    };
    let mut all_goals: Vec<Value> = file_goals.iter().map(|g| goal(g, true)).collect();
    all_goals.extend(
        stored_goals
            .iter()
            .filter(|g| !file_goals.contains(g))
            .map(|g| goal(g, false)),
    );
    let base = base_url(&app, &headers);
    let links: Vec<Value> = links
        .iter()
        .map(|l| {
            json!({"id": l.id, "label": l.label, "has_password": l.has_password,
                "created_at": l.created_at.format("%Y-%m-%d %H:%M").to_string(),
                "revoked": l.revoked})
        })
        .collect();
    Ok(private(
        Json(json!({
            "site": {
                "domain": domain,
                "timezone": settings.timezone,
                "in_config": in_config,
                "public_counters": settings.public.enabled,
                "exclude_paths": settings.exclude_paths,
                "exclude_ips": settings.exclude_ips.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "hidden_paths": settings.public.hidden_paths,
            },
            "goals": all_goals,
            "shares": links,
            "snippet": format!("<script defer src=\"{base}/script.js\" data-domain=\"{domain}\"></script>"),
            "ignore_link": format!("https://{domain}/#footfall-ignore"),
        }))
        .into_response(),
    ))
}

/// A change the settings page asks for: the owner commands it may run (not the ones that manage
/// owners or keys, which stay on the command line).
#[derive(Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    SiteAdd {
        domain: String,
        #[serde(default = "utc")]
        timezone: String,
        #[serde(default)]
        public_counters: bool,
    },
    SiteRemove {
        domain: String,
        #[serde(default)]
        purge: bool,
    },
    SiteTimezone {
        domain: String,
        timezone: String,
    },
    SiteCounters {
        domain: String,
        enabled: bool,
    },
    SiteRules {
        domain: String,
        #[serde(default)]
        exclude_paths: Vec<String>,
        #[serde(default)]
        exclude_ips: Vec<String>,
        #[serde(default)]
        hidden_paths: Vec<String>,
    },
    GoalAdd {
        site: String,
        page: Option<String>,
        event: Option<String>,
    },
    GoalRemove {
        site: String,
        page: Option<String>,
        event: Option<String>,
    },
    ShareAdd {
        site: String,
        #[serde(default)]
        label: String,
        /// Empty or absent: anyone with the link may look.
        #[serde(default)]
        password: String,
    },
    ShareRevoke {
        site: String,
        id: String,
    },
}

fn utc() -> String {
    "UTC".to_owned()
}

/// `POST /api/dashboard/settings`: runs one [`Change`]; 200 with what it did, 400 with why not.
/// A new shared link's address comes back once, in `url`: only its hash is kept.
pub async fn post_settings(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    require_owner(&app, &headers).await?;
    let change: Change = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("not a settings change: {e}")))?;
    let mut url = None;
    let command = match change {
        Change::SiteAdd {
            domain,
            timezone,
            public_counters,
        } => Command::SiteAdd {
            domain,
            timezone,
            public_counters,
        },
        Change::SiteRemove { domain, purge } => Command::SiteRemove { domain, purge },
        Change::SiteTimezone { domain, timezone } => Command::SiteTimezone { domain, timezone },
        Change::SiteCounters { domain, enabled } => Command::SiteCounters { domain, enabled },
        Change::SiteRules {
            domain,
            exclude_paths,
            exclude_ips,
            hidden_paths,
        } => Command::SiteRules {
            domain,
            exclude_paths,
            exclude_ips,
            hidden_paths,
        },
        Change::GoalAdd { site, page, event } => Command::GoalAdd { site, page, event },
        Change::GoalRemove { site, page, event } => Command::GoalRemove { site, page, event },
        Change::ShareAdd {
            site,
            label,
            password,
        } => {
            let password_hash = if password.is_empty() {
                None
            } else {
                let hashed = password_work(&app, move || auth::hash_password(&password)).await?;
                Some(hashed.map_err(|e| AppError::BadRequest(e.to_string()))?)
            };
            let token = auth::new_token();
            let id = token[..8].to_owned();
            url = Some(format!("{}/share/{token}", base_url(&app, &headers)));
            Command::ShareAdd {
                site,
                id,
                token_hash: auth::token_hash(&token),
                label,
                password_hash,
            }
        }
        Change::ShareRevoke { site, id } => Command::ShareRevoke { site, id },
    };
    let runner = app.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        admin::execute(
            &command,
            &runner.store,
            &runner.settings,
            Some(Live {
                sites: runner.collector.sites(),
                counters: &runner.counters,
                setup_token: &runner.setup_token,
            }),
        )
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("the change failed: {e}")))?;
    if outcome.internal {
        return Err(AppError::Internal(anyhow::anyhow!(outcome.message)));
    }
    if !outcome.ok {
        return Err(AppError::BadRequest(outcome.message));
    }
    // The command line does not know where the server is reached; this request does.
    let message = outcome
        .message
        .replace("https://YOUR-FOOTFALL-HOST", &base_url(&app, &headers));
    Ok(private(
        Json(json!({"message": message, "url": url})).into_response(),
    ))
}
