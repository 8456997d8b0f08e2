//! Steering for players: the manifest URL of a published title on an appliance at the
//! client's site that holds it (per the appliances' own reports), else at a nearby
//! site, else at the origin. As a function (the `vodfarm steer` command) and as an
//! HTTP endpoint: `GET /steer?title=ID&site=SITE[&manifest=hls|dash]` answers JSON.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use placement::{Steer, Via};
use serde::{Deserialize, Serialize};

use crate::fill::ApplianceReport;
use workers::status::{self, State as TitleState};
use workers::store::{ObjectStore, StoreError};
use workers::{keys, FarmError, TitleId};

/// Why steering has no answer; the endpoint maps each to its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum SteerError {
    /// A malformed title id (400).
    #[error(transparent)]
    BadTitle(#[from] workers::keys::BadTitle),
    /// No such published title (404).
    #[error("title '{0}' is not published")]
    NotPublished(String),
    /// The fleet is missing or does not know the site (404: nothing to steer to).
    #[error("{0}")]
    Fleet(String),
    /// The store failed (503 when trying again may help, else 500).
    #[error(transparent)]
    Farm(#[from] FarmError),
}

impl From<StoreError> for SteerError {
    fn from(e: StoreError) -> Self {
        SteerError::Farm(e.into())
    }
}

impl SteerError {
    /// The HTTP status the endpoint answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            SteerError::BadTitle(_) => StatusCode::BAD_REQUEST,
            SteerError::NotPublished(_) | SteerError::Fleet(_) => StatusCode::NOT_FOUND,
            SteerError::Farm(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            SteerError::Farm(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Manifest {
    #[default]
    Hls,
    Dash,
}

impl Manifest {
    pub fn file(self) -> &'static str {
        match self {
            Manifest::Hls => "master.m3u8",
            Manifest::Dash => "manifest.mpd",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub url: String,
    pub via: Via,
    pub appliance: Option<String>,
    pub site: Option<String>,
}

/// Where a player at `site` should fetch `title`'s manifest from. `origin_url` is the
/// base URL the origin's keys are served under.
pub fn steer(
    store: &dyn ObjectStore,
    title: &str,
    site: &str,
    manifest: Manifest,
    origin_url: &str,
) -> Result<Answer, SteerError> {
    let t = TitleId::parse(title)?;
    if status::read(store, &t).map(|s| s.state) != Some(TitleState::Published) {
        return Err(SteerError::NotPublished(t.to_string()));
    }
    let fleet = workers::place::stored_fleet(store)?.ok_or_else(|| {
        SteerError::Fleet("no fleet configured: run `vodfarm place --fleet FILE`".into())
    })?;
    let mut reports: BTreeMap<String, ApplianceReport> = BTreeMap::new();
    for a in fleet.sites.iter().flat_map(|s| &s.appliances) {
        match store.get(&keys::appliance_report(&a.id)) {
            // An unreadable report counts as holding nothing: never steer on a guess.
            Ok(b) => {
                if let Ok(r) = serde_json::from_slice(&b) {
                    reports.insert(a.id.clone(), r);
                }
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let holds = |a: &str, t: &str| {
        reports
            .get(a)
            .is_some_and(|r| r.held_titles.iter().any(|h| h == t))
    };
    let Steer {
        via,
        appliance,
        site: at,
        base_url,
    } = placement::steer(&fleet, holds, t.as_str(), site)
        .map_err(|e| SteerError::Fleet(e.to_string()))?;
    let key = keys::origin(&t, manifest.file());
    let base = base_url.as_deref().unwrap_or(origin_url);
    Ok(Answer {
        url: format!("{}/{key}", base.trim_end_matches('/')),
        via,
        appliance,
        site: at,
    })
}

#[derive(Deserialize)]
struct Params {
    title: String,
    site: String,
    #[serde(default)]
    manifest: Manifest,
}

struct Shared {
    store: Arc<dyn ObjectStore>,
    origin_url: String,
}

/// The steering endpoint.
pub fn router(store: Arc<dyn ObjectStore>, origin_url: String) -> Router {
    Router::new()
        .route("/steer", get(handle))
        .with_state(Arc::new(Shared { store, origin_url }))
}

async fn handle(
    State(s): State<Arc<Shared>>,
    Query(p): Query<Params>,
) -> Result<Json<Answer>, (StatusCode, Json<serde_json::Value>)> {
    let s2 = s.clone();
    let answer = tokio::task::spawn_blocking(move || {
        steer(
            s2.store.as_ref(),
            &p.title,
            &p.site,
            p.manifest,
            &s2.origin_url,
        )
    })
    .await
    .map_err(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
    })?;
    answer.map(Json).map_err(|e| {
        (
            e.status(),
            Json(serde_json::json!({ "error": e.to_string() })),
        )
    })
}
