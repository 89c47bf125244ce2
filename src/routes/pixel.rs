//! `GET /api/event.gif`: the tracking pixel, for pages without JavaScript.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;

use super::event::enqueue;
use super::request_context;
use crate::app::App;
use crate::error::AppError;
use crate::rate_limit::Bucket;

/// A 1×1 transparent GIF (GIF89a, one-colour palette, transparency extension, one pixel).
const TRANSPARENT_GIF: &[u8] = &[
    b'G', b'I', b'F', b'8', b'9', b'a', // signature
    1, 0, 1, 0, // 1×1
    0x80, 0, 0, // global colour table of 2 entries, background 0, aspect 0
    0, 0, 0, 0xff, 0xff, 0xff, // palette: black, white
    0x21, 0xf9, 4, 1, 0, 0, 0, 0, // graphic control: colour 0 is transparent
    0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, // image descriptor: 1×1 at 0,0
    2, 2, 0x44, 1, 0,    // LZW min code size 2; one sub-block of 2 bytes; terminator
    0x3b, // trailer
];

pub async fn get_pixel(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<impl IntoResponse, AppError> {
    let context = request_context(&app, peer, &headers);
    app.client_limits.check(Bucket::Events, context.client_ip)?;
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
    let hit = app
        .collector
        .parse_pixel(query.as_deref().unwrap_or_default(), referer, context)
        .map_err(|r| AppError::BadRequest(r.to_string()))?;
    enqueue(&app, hit)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store, max-age=0"),
        ],
        TRANSPARENT_GIF,
    ))
}
