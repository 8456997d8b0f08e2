//! `vodfarm oca serve`: an appliance's cache over HTTP. tower-http's `ServeDir` answers
//! GET and HEAD with single byte ranges (206 and 416), conditional requests and its own
//! path checks; on top of it: the streaming content types (HLS, DASH, CMAF), CORS so
//! that browser players on other origins may fetch, and a refusal of anything under a
//! dot name (the index and partial downloads are not content), and of any path that
//! resolves outside the cache (a symlink to `/etc` must not serve `/etc/shadow`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{HeaderValue, CONTENT_TYPE};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::ServeDir;

/// Content types players expect (mime_guess does not know every streaming type).
pub fn content_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.').map(|(_, e)| e)?;
    Some(match ext {
        "m3u8" => "application/vnd.apple.mpegurl",
        "mpd" => "application/dash+xml",
        "m4s" => "video/iso.segment",
        "mp4" => "video/mp4",
        "m4a" => "audio/mp4",
        "json" => "application/json",
        _ => return None,
    })
}

/// Whether `path` (a URL path) names a file that really lies inside `root` (already
/// canonical) once every symlink on the way is followed. A path that does not exist
/// passes: ServeDir answers 404 for it.
fn inside(root: &Path, path: &str) -> bool {
    match std::fs::canonicalize(root.join(path.trim_start_matches('/'))) {
        Ok(real) => real.starts_with(root),
        Err(_) => true,
    }
}

async fn guard(State(root): State<Arc<PathBuf>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    // Our keys never hold '%' or dot names; refusing them outright also covers
    // percent-encoded dots.
    if path.contains('%') || path.split('/').any(|p| p.starts_with('.')) || !inside(&root, &path) {
        tracing::info!(path, status = 404, "refused");
        return StatusCode::NOT_FOUND.into_response();
    }
    let method = req.method().clone();
    let mut res = next.run(req).await;
    if res.status().is_success() {
        if let Some(t) = content_type(&path) {
            res.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(t));
        }
    }
    tracing::info!(%method, path, status = res.status().as_u16(), "served");
    res
}

/// The cache at `dir` over HTTP (`dir` must exist: its real path bounds what is served).
pub fn router(dir: &Path) -> Router {
    let root = Arc::new(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()));
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD])
        .allow_headers(Any)
        .expose_headers(Any);
    Router::new()
        .fallback_service(ServeDir::new(dir).append_index_html_on_directories(false))
        .layer(middleware::from_fn_with_state(root, guard))
        .layer(cors)
}
