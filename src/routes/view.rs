//! What the dashboard reads, for a signed-in owner and for a shared link alike: the Stats API's
//! answers for one site, the prop keys a breakdown can ask for, the dropped events (owners only)
//! and CSV exports. [`Viewer`] says who asks and which site they may read, so each handler is
//! written once for both.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use chrono_tz::Tz;
use footfall_collector::sites::Site;
use footfall_collector::SiteDomain;
use footfall_queries::shares;
use footfall_queries::shares::OpenLink;
use footfall_queries::stats::run::Events;
use footfall_queries::stats::{api, Period, QueryError};
use serde::Deserialize;
use serde_json::{json, Value};

use super::owner::{private, require_owner};
use super::share::unlocked;
use super::stats::{answer, blocking, reading};
use crate::app::App;
use crate::auth;
use crate::error::AppError;

/// The header a shared view's fetches carry its token in.
pub const SHARE_HEADER: &str = "x-footfall-share";
/// Rows a CSV export holds at most.
const EXPORT_ROWS: u64 = 10_000;

/// Who is reading: a signed-in owner (every site) or a shared link's visitor (its site only).
pub enum Viewer {
    Owner,
    Link(OpenLink),
}

/// The shared link's token a request carries: in [`SHARE_HEADER`], or as `share=` in the URL
/// of a download (which cannot carry a header).
pub fn share_token(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    // A header that is not text is still a link's (a wrong one): never the owner's session.
    if let Some(token) = headers.get(SHARE_HEADER) {
        return Some(String::from_utf8_lossy(token.as_bytes()).into_owned());
    }
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "share")
        .map(|(_, token)| token.into_owned())
}

/// The live link a token opens.
pub async fn open_link(app: &Arc<App>, token: &str) -> Result<Option<OpenLink>, AppError> {
    let hash = auth::token_hash(token);
    blocking(app, move |conn| Ok(shares::open(conn, &hash)?)).await
}

impl FromRequestParts<Arc<App>> for Viewer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AppError> {
        if let Some(token) = share_token(&parts.headers, parts.uri.query()) {
            let link = open_link(app, &token).await?.ok_or_else(|| {
                AppError::Unauthorized("this shared link does not exist or was revoked".into())
            })?;
            if !unlocked(
                &parts.headers,
                &token,
                &link,
                app.collector.now().timestamp(),
            ) {
                return Err(AppError::Unauthorized(
                    "this shared link needs its password: open the link again".into(),
                ));
            }
            // Anyone may hold a link (a public embed): each address gets the Stats API's hourly
            // budget per link, so nobody can keep the server's cores busy through one.
            let peer = parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip());
            let address = peer.map(|ip| app.settings.client_ip.client_ip(ip, &parts.headers));
            let budget = match address {
                Some(ip) => format!("link:{}:{}", link.id, auth::network(ip)),
                None => format!("link:{}", link.id),
            };
            app.api_limiter
                .check(&budget)
                .map_err(|wait| AppError::RateLimited {
                    reason: format!(
                        "Too many requests through this link: at most {} an hour from one address.",
                        app.api_limiter.per_hour
                    ),
                    retry_after_secs: wait.as_secs().max(1),
                })?;
            return Ok(Viewer::Link(link));
        }
        require_owner(app, &parts.headers).await?;
        Ok(Viewer::Owner)
    }
}

impl Viewer {
    /// The site `site_id` names, if this viewer may read it.
    fn site(&self, app: &App, site_id: &str) -> Result<Arc<Site>, AppError> {
        if let Viewer::Link(link) = self {
            if link.site != site_id {
                return Err(AppError::Forbidden(format!(
                    "this link shows {} only",
                    link.site
                )));
            }
        }
        registered_site(app, site_id)
    }

    /// The site a request body names in `site_id`, its time zone, and the body.
    fn site_of(&self, app: &App, body: &[u8]) -> Result<(Value, String, Tz), AppError> {
        let json: Value = serde_json::from_slice(body)
            .map_err(|e| AppError::BadRequest(format!("the body is not JSON: {e}")))?;
        let site_id = json
            .get("site_id")
            .and_then(Value::as_str)
            .ok_or_else(|| AppError::BadRequest("site_id is required".into()))?
            .to_owned();
        let site = self.site(app, &site_id)?;
        let tz = site.settings.timezone.parse().unwrap_or(Tz::UTC);
        Ok((json, site_id, tz))
    }
}

/// The running server's site of that name, or 404.
pub(super) fn registered_site(app: &App, name: &str) -> Result<Arc<Site>, AppError> {
    SiteDomain::parse(name)
        .ok()
        .and_then(|d| app.collector.sites().get(&d))
        .ok_or_else(|| AppError::NotFound(format!("{name} is not a registered site")))
}

/// `GET /api/share/me`: what a shared link shows.
pub async fn get_link(viewer: Viewer, State(app): State<Arc<App>>) -> Result<Response, AppError> {
    let Viewer::Link(link) = &viewer else {
        return Err(AppError::BadRequest(
            "this answers shared links: send their token".into(),
        ));
    };
    let site = viewer.site(&app, &link.site)?;
    Ok(private(
        Json(json!({
            "site": {"domain": link.site, "timezone": site.settings.timezone},
            "label": link.label,
        }))
        .into_response(),
    ))
}

/// `POST /api/dashboard/query` and `/api/share/query`: a Stats API request (the v2 shape). The
/// dashboard's numbers are all made of these.
pub async fn post_query(
    viewer: Viewer,
    State(app): State<Arc<App>>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let (json, site_id, tz) = viewer.site_of(&app, &body)?;
    Ok(private(
        Json(answer(&app, json, &site_id, tz).await?).into_response(),
    ))
}

/// The period a body's `date_range` stands for on its site, resolved as the Stats API does.
fn period_of(events: &Events, json: &Value, site_id: &str, tz: Tz) -> Result<Period, QueryError> {
    let request = api::parse(&json!({
        "site_id": site_id,
        "date_range": json.get("date_range").cloned().unwrap_or(Value::Null),
        "metrics": ["events"],
    }))?;
    let first_event = events.first_event(site_id)?;
    Ok(request.plan(tz, Utc::now(), first_event, &[])?.query.period)
}

/// `POST /api/dashboard/prop_keys` and `/api/share/prop_keys`: the prop keys the site's events
/// carry in `date_range`, most used first, for the props panel's choice.
pub async fn post_prop_keys(
    viewer: Viewer,
    State(app): State<Arc<App>>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let (json, site_id, tz) = viewer.site_of(&app, &body)?;
    let keys = reading(&app, move |_, events| {
        let period = period_of(&events, &json, &site_id, tz)?;
        events.prop_keys(&site_id, &period)
    })
    .await?;
    Ok(private(Json(json!({ "keys": keys })).into_response()))
}

/// `POST /api/dashboard/dropped`: the site's events dropped in `date_range`, per reason (bots,
/// spam, the owner's rules…). Owners only: a shared view shows what was recorded.
pub async fn post_dropped(
    viewer: Viewer,
    State(app): State<Arc<App>>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    if matches!(viewer, Viewer::Link(_)) {
        return Err(AppError::Forbidden(
            "dropped events are for the site's owners".into(),
        ));
    }
    let (json, site_id, tz) = viewer.site_of(&app, &body)?;
    let totals = reading(&app, move |_, events| {
        let period = period_of(&events, &json, &site_id, tz)?;
        events.dropped(&site_id, &period)
    })
    .await?;
    let results: Vec<Value> = totals
        .into_iter()
        .map(|(reason, events)| json!({"reason": reason.as_str(), "events": events}))
        .collect();
    Ok(private(Json(json!({ "results": results })).into_response()))
}

#[derive(Deserialize)]
pub struct Export {
    /// A Stats API request, as JSON.
    q: String,
    /// What the file holds (a panel's name), for its file name.
    #[serde(default)]
    name: String,
}

/// `GET /api/dashboard/export.csv` and `/api/share/export.csv`: a Stats API request's rows as a
/// CSV download, one column per dimension and metric (at most 10,000 rows).
pub async fn get_export(
    viewer: Viewer,
    State(app): State<Arc<App>>,
    Query(export): Query<Export>,
) -> Result<Response, AppError> {
    let (mut json, site_id, tz) = viewer.site_of(&app, export.q.as_bytes())?;
    let limit = json
        .pointer("/pagination/limit")
        .and_then(Value::as_u64)
        .unwrap_or(EXPORT_ROWS)
        .min(EXPORT_ROWS);
    json["pagination"] = json!({ "limit": limit });
    let range = match json.get("date_range") {
        Some(Value::String(name)) => name.clone(),
        Some(Value::Array(dates)) => dates
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("_"),
        _ => String::new(),
    };
    let answer = answer(&app, json.clone(), &site_id, tz).await?;
    let csv = to_csv(&json, &answer)?;
    let file = file_name(&[&site_id, &export.name, &range]);
    let mut response = private(csv.into_response());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{file}.csv\""))
            .expect("the name keeps only letters, digits, dots, dashes and underscores"),
    );
    Ok(response)
}

/// `example.com-top-pages-30d`: the parts joined, with anything but ASCII letters, digits, `.`,
/// `-` and `_` left out (the name travels in a header).
fn file_name(parts: &[&str]) -> String {
    let name = parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                .take(60)
                .collect::<String>()
        })
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if name.is_empty() {
        "footfall".to_owned()
    } else {
        name
    }
}

/// The answer's rows under a header of the request's dimensions (without their `visit:` or
/// `event:` prefix) and metrics.
fn to_csv(request: &Value, answer: &Value) -> Result<String, AppError> {
    let names = |key: &str| -> Vec<String> {
        request
            .get(key)
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(|name| {
                        name.strip_prefix("visit:")
                            .or_else(|| name.strip_prefix("event:"))
                            .unwrap_or(name)
                            .to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| AppError::Internal(anyhow::anyhow!("writing CSV: {e}"));
    out.write_record(names("dimensions").iter().chain(&names("metrics")))
        .map_err(failed)?;
    for row in answer["results"].as_array().into_iter().flatten() {
        let mut record: Vec<String> = Vec::new();
        for value in row["dimensions"].as_array().into_iter().flatten() {
            record.push(inert(&text(value)));
        }
        for value in row["metrics"].as_array().into_iter().flatten() {
            record.push(text(value));
        }
        out.write_record(&record).map_err(failed)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(e.into()))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A value a stranger wrote, made inert for spreadsheets: one starting like a formula gets a
/// leading `'`, so opening the file runs nothing (OWASP's advice on CSV injection).
fn inert(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_name_their_columns_and_defuse_formulas() {
        let request = json!({"dimensions": ["visit:source", "event:page"],
            "metrics": ["visitors", "bounce_rate"]});
        let answer = json!({"results": [
            {"dimensions": ["=HYPERLINK(\"http://evil\")", "/a,b"], "metrics": [3, null]},
            {"dimensions": ["Google", "-1+2"], "metrics": [1, 50]},
        ]});
        assert_eq!(
            to_csv(&request, &answer).unwrap(),
            "source,page,visitors,bounce_rate\n\
             \"'=HYPERLINK(\"\"http://evil\"\")\",\"/a,b\",3,\n\
             Google,'-1+2,1,50\n"
        );
    }

    #[test]
    fn file_names_keep_only_safe_characters() {
        assert_eq!(
            file_name(&["example.com", "Top pages\"\r\n", "2026-11-01_2026-11-30"]),
            "example.com-Toppages-2026-11-01_2026-11-30"
        );
        assert_eq!(file_name(&["", "\"", ""]), "footfall");
    }
}
