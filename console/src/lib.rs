//! The ops console, `vodfarm serve`: what content ops and operators look at and act on.
//!
//! - Pages, rendered on the server with every value from titles, files and messages
//!   escaped ([`html`]); a small script of our own refreshes the parts marked live by
//!   polling their fragments, and sends the actions. No build step, no CDN: the
//!   script, the style sheet and the preview players (hls.js, Shaka) are compiled
//!   into the binary and served from `/assets/`.
//! - The JSON API (`/api/...`): the same data for machines ([`api`]).
//! - Actions (requeue or discard a dead-lettered message, retry a failed title) need
//!   `Authorization: Bearer <token>` ([`auth`]). A bearer header is never sent by a
//!   browser on its own, so a page on another site cannot make one (no CSRF); actions
//!   also refuse a cross-site `Origin`. Every page carries a content security policy
//!   that runs only our own script files, so text that slipped through as markup could
//!   still not run.
//! - `/metrics`: the Prometheus text format ([`metrics`]), also served by every worker.
//!
//! The store and queue are the farm's own (embedded, or S3 and SQS): the console is
//! another client of them, stateless, and may run anywhere and more than once.

#![warn(missing_docs)]

pub mod api;
pub mod assets;
pub mod auth;
pub mod html;
pub mod metrics;
pub mod pages;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use workers::queue::Queue;
use workers::store::ObjectStore;

/// What every handler shares.
#[derive(Clone)]
pub struct Console {
    /// The farm's store.
    pub store: Arc<dyn ObjectStore>,
    /// The farm's queues.
    pub queue: Arc<dyn Queue>,
    /// The bearer token actions need; without one the console is read-only.
    pub token: Option<Arc<str>>,
}

/// Pages may load only our own scripts, styles and media; the preview players feed
/// media elements from `blob:` URLs (Media Source Extensions).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// The whole console: pages, API, actions, assets, the published files for the
/// preview, and `/metrics`.
pub fn router(c: Console) -> Router {
    Router::new()
        .merge(pages::routes())
        .merge(api::routes())
        .merge(assets::routes())
        .merge(metrics::routes())
        .with_state(c)
        .layer(middleware::from_fn(security_headers))
}

/// Serve `app` at `listen` until SIGINT/SIGTERM or `stop` resolves; `on_bound` gets
/// the real address (the port may have been 0). Blocks the calling thread.
pub fn serve(
    app: Router,
    listen: SocketAddr,
    on_bound: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    appliance::http::run(app, listen, on_bound)
}

/// Serve `app` at `listen` on a thread of its own for the rest of the process (a
/// worker's `/metrics`); the address is bound before returning, so a port in use is
/// reported at once. Returns the bound address.
pub fn spawn(app: Router, listen: SocketAddr) -> std::io::Result<SocketAddr> {
    let std_listener = std::net::TcpListener::bind(listen)?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("vodfarm-metrics")
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("vodfarm-metrics".into())
        .spawn(move || {
            rt.block_on(async move {
                match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(l) => {
                        if let Err(e) = axum::serve(l, app).await {
                            tracing::error!(error = %e, "metrics server stopped");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "metrics server"),
                }
            })
        })?;
    Ok(addr)
}

/// Run blocking store and queue calls off the async threads (the S3 backend blocks on
/// its own runtime, which must not happen on one of ours).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, api::ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| api::ApiError::Internal(format!("a console task failed: {e}")))
}
