//! `GET /script.js`: the tracker, also under Plausible's names (`/js/script.js`,
//! `/js/script.hash.outbound-links.js`, …) so a site moving over changes only the host in `src`.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use footfall_collector::tracker;

use crate::assets::{open_to_any_origin, Asset};
use crate::error::AppError;

/// A day fresh, then a week in which a cached copy is still used while it is revalidated in the
/// background: a page never waits on the tracker, and a new tracker reaches every browser within
/// about a day. The URL carries no version, so `immutable` would be wrong.
const CACHE_CONTROL: &str = "public, max-age=86400, stale-while-revalidate=604800";

static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        tracker::SCRIPT,
        "text/javascript; charset=utf-8",
        tracker::etag(),
        CACHE_CONTROL,
    )
});

pub async fn get_script(headers: HeaderMap) -> Response {
    let mut response = SCRIPT.respond(&headers);
    // Pages may load it with `crossorigin` (for Subresource Integrity) or under
    // Cross-Origin-Embedder-Policy.
    open_to_any_origin(response.headers_mut());
    response
}

/// `/js/{file}`: any of Plausible's script names; anything else there is not ours.
pub async fn get_plausible_script(
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if !tracker::is_script_name(&file) {
        return Err(AppError::NotFound(
            "no such script: the tracker is /js/script.js or a variant such as /js/script.hash.js"
                .into(),
        ));
    }
    Ok(get_script(headers).await)
}
