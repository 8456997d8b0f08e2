//! The JSON API and the actions. Reads: `/api/titles[?state=S]`, `/api/titles/{id}`,
//! `/api/farm`, `/api/placement`. Actions (POST, bearer token): retry a failed title,
//! requeue or discard a dead-lettered message.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use workers::deadletter::{self, Action};
use workers::retry::Resumed;
use workers::status::{self, State as TitleState};
use workers::TitleId;

use crate::{auth, blocking, views, Console};

/// Why an API call has no answer; each maps to an HTTP status and a JSON body
/// `{"error": "..."}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No such title or message (404).
    #[error("{0}")]
    NotFound(String),
    /// A request that makes no sense (400).
    #[error("{0}")]
    BadRequest(String),
    /// Not now, in this state (409).
    #[error("{0}")]
    Conflict(String),
    /// Refused: token or origin (401, 403).
    #[error(transparent)]
    Denied(#[from] auth::Denied),
    /// The store or the queue failed (502: the console is a client of them).
    #[error(transparent)]
    Farm(#[from] workers::FarmError),
    /// A bug or a lost task (500).
    #[error("{0}")]
    Internal(String),
}

impl From<workers::store::StoreError> for ApiError {
    fn from(e: workers::store::StoreError) -> Self {
        ApiError::Farm(e.into())
    }
}

impl From<workers::queue::QueueError> for ApiError {
    fn from(e: workers::queue::QueueError) -> Self {
        ApiError::Farm(e.into())
    }
}

impl From<workers::deadletter::ActError> for ApiError {
    fn from(e: workers::deadletter::ActError) -> Self {
        match e {
            workers::deadletter::ActError::Queue(e) => e.into(),
            workers::deadletter::ActError::Store(e) => e.into(),
        }
    }
}

impl ApiError {
    /// The HTTP status it is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Denied(d) => d.status(),
            ApiError::Farm(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let text = workers::error::one_line(&self);
        (self.status(), Json(serde_json::json!({ "error": text }))).into_response()
    }
}

/// `?state=published`: only titles in that state.
#[derive(Debug, Deserialize)]
pub struct Filter {
    /// submitted, encoding, packaging, published or failed; anything else is refused.
    pub state: Option<String>,
}

/// The state a filter names; an empty one is no filter.
pub fn parse_state(s: Option<&str>) -> Result<Option<TitleState>, ApiError> {
    match s {
        None | Some("") => Ok(None),
        Some(s) => serde_json::from_value(serde_json::Value::String(s.into()))
            .map(Some)
            .map_err(|_| {
                ApiError::BadRequest(format!(
                    "'{s}' is not a state (submitted, encoding, packaging, published, failed)"
                ))
            }),
    }
}

/// A title id from a URL, checked.
pub fn title_id(s: &str) -> Result<TitleId, ApiError> {
    TitleId::parse(s).map_err(|e| ApiError::NotFound(e.to_string()))
}

async fn titles(State(c): State<Console>, Query(f): Query<Filter>) -> Result<Response, ApiError> {
    let state = parse_state(f.state.as_deref())?;
    let list = blocking(move || views::titles(c.store.as_ref(), state)).await??;
    Ok(Json(list).into_response())
}

/// The title page's data for the title named in a URL; 404 when there is none.
pub async fn title_detail(c: Console, id: &str) -> Result<views::TitleDetail, ApiError> {
    let t = title_id(id)?;
    blocking(move || views::title(c.store.as_ref(), &t))
        .await??
        .ok_or_else(|| ApiError::NotFound(format!("no title '{id}'")))
}

async fn title(State(c): State<Console>, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(title_detail(c, &id).await?).into_response())
}

async fn farm(State(c): State<Console>) -> Result<Response, ApiError> {
    let f = blocking(move || views::farm(c.queue.as_ref())).await??;
    Ok(Json(f).into_response())
}

async fn placement(State(c): State<Console>) -> Result<Response, ApiError> {
    let p = blocking(move || views::placement(c.store.as_ref())).await??;
    Ok(Json(p).into_response())
}

async fn retry(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth::check(c.token.as_deref(), &headers)?;
    let t = title_id(&id)?;
    let resumed = blocking(move || -> Result<Resumed, ApiError> {
        let Some(s) = status::read(c.store.as_ref(), &t) else {
            return Err(ApiError::NotFound(format!("no title '{t}'")));
        };
        // Only a title nobody works on: a failed one's jobs are gone (the runner
        // deletes the message that failed it).
        if s.state != TitleState::Failed {
            return Err(ApiError::Conflict(format!(
                "title '{t}' is {}, not failed: nothing to retry",
                s.state.as_str()
            )));
        }
        // One retry per failure, however many tabs, consoles or scripts ask at once:
        // the first to create this failure's claim (named by when it failed) retries.
        let failed_at = s.times.get(&TitleState::Failed).copied().unwrap_or(0);
        let claim = workers::keys::claim(&t, &format!("retry-{failed_at}"));
        if !c.store.create_if_absent(&claim, b"console")? {
            return Err(ApiError::Conflict(format!(
                "title '{t}' is already being retried"
            )));
        }
        Ok(workers::retry::retry(
            c.store.as_ref(),
            c.queue.as_ref(),
            &t,
        )?)
    })
    .await??;
    let what = match resumed {
        Resumed::Published => "already published".to_string(),
        Resumed::Ingest => "ingest queued again".to_string(),
        Resumed::Package => "packaging queued".to_string(),
        Resumed::Parts(p) => format!("{} part(s) queued again", p.len()),
    };
    tracing::info!(title = %id, what, "retried from the console");
    Ok(Json(serde_json::json!({ "title": id, "retried": what })).into_response())
}

async fn dead_letter(
    c: Console,
    headers: HeaderMap,
    queue: String,
    id: String,
    action: Action,
) -> Result<Response, ApiError> {
    auth::check(c.token.as_deref(), &headers)?;
    let Some(from) = workers::runner::QUEUES.iter().find(|q| **q == queue) else {
        return Err(ApiError::NotFound(format!("no queue '{queue}'")));
    };
    let m = id.clone();
    let done =
        blocking(move || deadletter::act(c.queue.as_ref(), c.store.as_ref(), from, &m, action))
            .await??;
    if !done {
        return Err(ApiError::NotFound(format!(
            "no message '{id}' in the {queue} dead-letter queue"
        )));
    }
    tracing::info!(queue, id, ?action, "dead letter handled from the console");
    let verb = match action {
        Action::Requeue => "requeued",
        Action::Discard => "discarded",
    };
    Ok(Json(serde_json::json!({ "queue": queue, "id": id, verb: true })).into_response())
}

async fn requeue(
    State(c): State<Console>,
    headers: HeaderMap,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    dead_letter(c, headers, queue, id, Action::Requeue).await
}

async fn discard(
    State(c): State<Console>,
    headers: HeaderMap,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    dead_letter(c, headers, queue, id, Action::Discard).await
}

/// The API's routes.
pub fn routes() -> Router<Console> {
    Router::new()
        .route("/api/titles", get(titles))
        .route("/api/titles/{id}", get(title))
        .route("/api/titles/{id}/retry", post(retry))
        .route("/api/farm", get(farm))
        .route("/api/placement", get(placement))
        .route("/api/dead-letters/{queue}/{id}/requeue", post(requeue))
        .route("/api/dead-letters/{queue}/{id}/discard", post(discard))
}
