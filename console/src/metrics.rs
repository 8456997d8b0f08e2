//! `/metrics` in the Prometheus text format. The counters and histograms are the
//! process's own (`workers::metrics`); the gauges of the farm's state are read when
//! scraped: on the console, the queues, titles by state and the appliances' reports;
//! on a worker (`vodfarm worker --metrics ADDR`), the queues.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use workers::queue::Queue;
use workers::store::ObjectStore;

use crate::api::ApiError;
use crate::{blocking, views, Console};

/// The Prometheus text format's content type.
const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Everything the console's process knows, with the farm's gauges read now.
pub fn console_text(store: &dyn ObjectStore, queue: &dyn Queue) -> Result<String, ApiError> {
    let m = workers::metrics::get();
    m.observe_queues(queue)?;
    m.observe_titles(store)?;
    // Only the fleet as it is now: an appliance taken out of it must not linger.
    for g in [
        &m.appliance_plan_bytes,
        &m.appliance_held_bytes,
        &m.appliance_fill_bytes,
        &m.appliance_healthy,
    ] {
        g.reset();
    }
    for a in views::placement(store)? {
        let l = [a.appliance.as_str()];
        m.appliance_plan_bytes
            .with_label_values(&l)
            .set(a.plan_bytes as i64);
        if let Some(h) = a.held_bytes {
            m.appliance_held_bytes.with_label_values(&l).set(h as i64);
        }
        if let Some(f) = a.last_fill_bytes {
            m.appliance_fill_bytes.with_label_values(&l).set(f as i64);
        }
        if let Some(ok) = a.healthy {
            m.appliance_healthy.with_label_values(&l).set(i64::from(ok));
        }
    }
    Ok(m.encode())
}

async fn console_metrics(State(c): State<Console>) -> Result<Response, ApiError> {
    let text = blocking(move || console_text(c.store.as_ref(), c.queue.as_ref())).await??;
    Ok(([(header::CONTENT_TYPE, TEXT)], text).into_response())
}

/// The console's `/metrics`.
pub fn routes() -> Router<Console> {
    Router::new().route("/metrics", get(console_metrics))
}

async fn worker_metrics(State(q): State<Arc<dyn Queue>>) -> Result<Response, ApiError> {
    let text = blocking(move || -> Result<String, ApiError> {
        let m = workers::metrics::get();
        m.observe_queues(q.as_ref())?;
        Ok(m.encode())
    })
    .await??;
    Ok(([(header::CONTENT_TYPE, TEXT)], text).into_response())
}

/// A worker's `/metrics` (its own counters, and the queues).
pub fn worker_router(queue: Arc<dyn Queue>) -> Router {
    Router::new()
        .route("/metrics", get(worker_metrics))
        .with_state(queue)
}
