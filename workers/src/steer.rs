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

use crate::oca::ApplianceReport;
use crate::status::{self, State as TitleState};
use crate::store::{ObjectStore, StoreError};
use crate::{keys, StageError, TitleId};

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
) -> Result<Answer, StageError> {
    let t = TitleId::parse(title).map_err(|e| StageError::Permanent(e.to_string()))?;
    if status::read(store, &t).map(|s| s.state) != Some(TitleState::Published) {
        return Err(StageError::Permanent(format!(
            "title '{t}' is not published"
        )));
    }
    let fleet = crate::place::stored_fleet(store)?.ok_or_else(|| {
        StageError::Permanent("no fleet configured: run `vodfarm place --fleet FILE`".into())
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
        .map_err(|e| StageError::Permanent(e.to_string()))?;
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
        let code = match e {
            StageError::Permanent(_) => StatusCode::NOT_FOUND,
            StageError::Transient(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        (code, Json(serde_json::json!({ "error": e.to_string() })))
    })
}
