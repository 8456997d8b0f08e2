//! What the pages load, compiled into the binary (no CDN, no build step): our script
//! and style sheet, and the preview players, hls.js 1.7.4 and Shaka Player 5.2.12
//! (Apache-2.0, their licences beside them in `assets/vendor/`); and the title's
//! published files, read from the store, for the preview.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use workers::keys;
use workers::store::StoreError;

use crate::api::{title_id, ApiError};
use crate::{blocking, Console};

const JS: &str = "text/javascript; charset=utf-8";

fn asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    Some(match name {
        "console.js" => (JS, include_bytes!("../assets/console.js")),
        "console.css" => (
            "text/css; charset=utf-8",
            include_bytes!("../assets/console.css"),
        ),
        "hls.min.js" => (JS, include_bytes!("../assets/vendor/hls.min.js")),
        "shaka-player.compiled.js" => (
            JS,
            include_bytes!("../assets/vendor/shaka-player.compiled.js"),
        ),
        _ => return None,
    })
}

async fn assets(Path(name): Path<String>) -> Response {
    match asset(&name) {
        Some((kind, bytes)) => (
            [
                (header::CONTENT_TYPE, kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A published file's name below the title (`v720p-3000k/3.m4s`): our own names are
/// made of these characters, and no part may climb out (`..`) or be hidden.
fn published_name(rest: &str) -> Option<&str> {
    let ok = !rest.is_empty()
        && rest.split('/').all(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
    ok.then_some(rest)
}

fn content_type(name: &str) -> &'static str {
    if name.ends_with(".vtt") {
        return "text/vtt; charset=utf-8";
    }
    appliance::serve::content_type(name).unwrap_or("application/octet-stream")
}

async fn published(
    State(c): State<Console>,
    Path((id, rest)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let t = title_id(&id)?;
    let name = published_name(&rest)
        .ok_or_else(|| ApiError::NotFound(format!("no published file '{rest}'")))?
        .to_string();
    let kind = content_type(&name);
    let got = blocking(move || c.store.get(&keys::origin(&t, &name))).await?;
    match got {
        Ok(bytes) => Ok(([(header::CONTENT_TYPE, kind)], bytes).into_response()),
        Err(StoreError::NotFound { .. }) => {
            Err(ApiError::NotFound(format!("no published file '{rest}'")))
        }
        Err(e) => Err(ApiError::Farm(e.into())),
    }
}

/// `/assets/<name>` and `/origin/<title>/<file>`.
pub fn routes() -> Router<Console> {
    Router::new()
        .route("/assets/{name}", get(assets))
        .route("/origin/{id}/{*rest}", get(published))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_names() {
        assert_eq!(published_name("master.m3u8"), Some("master.m3u8"));
        assert_eq!(
            published_name("v720p-3000k/3.m4s"),
            Some("v720p-3000k/3.m4s")
        );
        for bad in ["", "../x", "a/../b", ".hidden", "a//b", "a/b%2e", "a\\b"] {
            assert_eq!(published_name(bad), None, "{bad}");
        }
    }
}
