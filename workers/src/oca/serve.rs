//! `vodfarm oca serve`: an appliance's cache over HTTP. tower-http's `ServeDir` answers
//! GET and HEAD with single byte ranges (206 and 416), conditional requests and its own
//! path checks; on top of it: the streaming content types (HLS, DASH, CMAF), CORS so
//! that browser players on other origins may fetch, and a refusal of anything under a
//! dot name (the index and partial downloads are not content).

use std::path::Path;

use axum::extract::Request;
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

async fn guard(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    // Our keys never hold '%' or dot names; refusing them outright also covers
    // percent-encoded dots.
    if path.contains('%') || path.split('/').any(|p| p.starts_with('.')) {
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

pub fn router(dir: &Path) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD])
        .allow_headers(Any)
        .expose_headers(Any);
    Router::new()
        .fallback_service(ServeDir::new(dir).append_index_html_on_directories(false))
        .layer(middleware::from_fn(guard))
        .layer(cors)
}
