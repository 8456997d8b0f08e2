//! The pages: titles, a title, the farm, placement. Each page is rendered whole on the
//! server; its live parts are fragments (`/fragments/...`) that the page's script
//! fetches again every second and swaps in, so there is one renderer and the script
//! never builds markup from data.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use workers::progress::Report;
use workers::status::State as TitleState;

use crate::api::{parse_state, title_detail, title_id, ApiError, Filter};
use crate::html::{bytes, esc, page, path_segment, time_ms};
use crate::views::{self, ApplianceView, FarmView, TitleDetail};
use crate::{blocking, Console};

/// An error on a page: the same status as the API's, as a page a person can read.
#[derive(Debug)]
pub struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError(e)
    }
}

impl From<workers::FarmError> for PageError {
    fn from(e: workers::FarmError) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let body = format!(
            "<h1>{} {}</h1><p class=\"error\">{}</p><p><a href=\"/\">All titles</a></p>",
            status.as_u16(),
            esc(status.canonical_reason().unwrap_or("")),
            esc(&workers::error::one_line(&self.0))
        );
        (status, Html(page("Error", "", &body))).into_response()
    }
}

const STATES: [&str; 5] = ["submitted", "encoding", "packaging", "published", "failed"];

fn live(url: &str, inner: &str) -> String {
    format!("<div data-live=\"{}\">{inner}</div>", esc(url))
}

fn seconds(s: f64) -> String {
    if s >= 90.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

/// Seconds per finished stage, in pipeline order.
fn stage_times(r: &Report) -> String {
    ["ingest", "encode", "package"]
        .iter()
        .filter_map(|k| Some(format!("{k} {}", seconds(*r.stage_seconds.get(*k)?))))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn progress_cell(r: &Report) -> String {
    format!(
        "<progress max=\"100\" value=\"{p}\"></progress> <span class=\"pct\">{p}%</span> \
<span class=\"muted\">{d}/{n} parts</span>",
        p = r.percent,
        d = r.parts_done,
        n = r.parts
    )
}

fn error_text(r: &Report) -> String {
    r.error
        .as_ref()
        .map(|e| format!("<div class=\"error\">{}</div>", esc(e)))
        .unwrap_or_default()
}

/// The titles table.
pub fn titles_table(list: &[Report]) -> String {
    if list.is_empty() {
        return "<p class=\"muted\">No titles.</p>".into();
    }
    let mut rows = String::new();
    for r in list {
        rows.push_str(&format!(
            "<tr data-title=\"{id}\" data-state=\"{state}\" data-percent=\"{pct}\">\
<td><a href=\"/titles/{href}\">{id}</a></td><td><span class=\"state {state}\">{state}</span></td>\
<td>{stage}</td><td>{progress}</td><td>{started}</td><td>{finished}</td><td>{times}</td><td>{error}</td></tr>",
            id = esc(&r.title),
            href = path_segment(&r.title),
            state = r.state.as_str(),
            pct = r.percent,
            stage = esc(&r.stage),
            progress = progress_cell(r),
            started = r.submitted_ms.map(time_ms).unwrap_or_default(),
            finished = r.finished_ms.map(time_ms).unwrap_or_default(),
            times = stage_times(r),
            error = error_text(r),
        ));
    }
    format!(
        "<table class=\"titles\"><thead><tr><th>Title</th><th>State</th><th>Stage</th>\
<th>Progress</th><th>Started</th><th>Finished</th><th>Stage times</th><th>Error</th></tr></thead>\
<tbody>{rows}</tbody></table>"
    )
}

fn filter_links(state: Option<TitleState>) -> String {
    let mut out = String::from("<p class=\"filters\">Show: ");
    let all = if state.is_none() {
        " class=\"active\""
    } else {
        ""
    };
    out.push_str(&format!("<a href=\"/\"{all}>all</a>"));
    for s in STATES {
        let active = if state.map(|x| x.as_str()) == Some(s) {
            " class=\"active\""
        } else {
            ""
        };
        out.push_str(&format!(" <a href=\"/?state={s}\"{active}>{s}</a>"));
    }
    out.push_str("</p>");
    out
}

fn html(s: String) -> Response {
    Html(s).into_response()
}

async fn titles_page(
    State(c): State<Console>,
    Query(f): Query<Filter>,
) -> Result<Response, PageError> {
    let state = parse_state(f.state.as_deref())?;
    let list = blocking(move || views::titles(c.store.as_ref(), state)).await??;
    let url = match state {
        Some(s) => format!("/fragments/titles?state={}", s.as_str()),
        None => "/fragments/titles".into(),
    };
    let body = format!(
        "<h1>Titles</h1>{}{}",
        filter_links(state),
        live(&url, &titles_table(&list))
    );
    Ok(html(page("Titles", "Titles", &body)))
}

async fn titles_fragment(
    State(c): State<Console>,
    Query(f): Query<Filter>,
) -> Result<Response, PageError> {
    let state = parse_state(f.state.as_deref())?;
    let list = blocking(move || views::titles(c.store.as_ref(), state)).await??;
    Ok(html(titles_table(&list)))
}

fn pre_json(v: &Option<serde_json::Value>) -> String {
    match v {
        Some(v) => format!(
            "<pre>{}</pre>",
            esc(&serde_json::to_string_pretty(v).unwrap_or_default())
        ),
        None => "<p class=\"muted\">Not yet.</p>".into(),
    }
}

fn vmaf(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "—".into())
}

/// The live part of a title's page: status, progress, ladder rungs, renditions.
pub fn title_live(d: &TitleDetail) -> String {
    let r = &d.report;
    let id = esc(&r.title);
    let retry = if r.state == TitleState::Failed {
        format!(
            " <button data-post=\"/api/titles/{}/retry\">Retry</button>",
            path_segment(&r.title)
        )
    } else {
        String::new()
    };
    let mut s = format!(
        "<section class=\"status\" data-title=\"{id}\" data-state=\"{state}\" data-percent=\"{pct}\">\
<p><span class=\"state {state}\">{state}</span>{stage}{retry}</p><p>{progress}</p>{error}\
<p class=\"muted\">Started {started}{finished}. {times}</p>",
        state = r.state.as_str(),
        pct = r.percent,
        stage = match r.state {
            TitleState::Published | TitleState::Failed => String::new(),
            _ => format!(" at {}", esc(&r.stage)),
        },
        progress = progress_cell(r),
        error = error_text(r),
        started = r.submitted_ms.map(time_ms).unwrap_or_else(|| "—".into()),
        finished = r
            .finished_ms
            .map(|t| format!(", finished {}", time_ms(t)))
            .unwrap_or_default(),
        times = stage_times(r),
    );
    for line in r.qc.iter().chain(&r.conversion).chain(&r.audio) {
        s.push_str(&format!("<p class=\"muted\">{}</p>", esc(line)));
    }
    s.push_str("</section>");
    if !d.rungs.is_empty() {
        s.push_str(&format!(
            "<h2>Ladder</h2><p class=\"muted\">{}{}</p><table class=\"rungs\"><thead><tr><th>Rung</th>\
<th>Size</th><th>Target</th><th>Predicted VMAF</th><th title=\"standard error of the prediction, from how far its probed windows were apart\">±</th>\
<th>Measured VMAF</th></tr></thead><tbody>",
            d.ladder_policy
                .as_ref()
                .map(|p| format!("Per-title policy {}. ", esc(p)))
                .unwrap_or_else(|| "Fixed ladder. ".into()),
            d.top_reason.as_deref().map(esc).unwrap_or_default()
        ));
        for g in &d.rungs {
            s.push_str(&format!(
                "<tr><td>{}</td><td>{}x{}</td><td>{:.0} kbit/s</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&g.id),
                g.width,
                g.height,
                g.target_kbps,
                vmaf(g.predicted_vmaf),
                vmaf(g.predicted_se),
                vmaf(g.measured_vmaf)
            ));
        }
        s.push_str("</tbody></table>");
    }
    if !d.renditions.is_empty() {
        s.push_str(
            "<h2>Renditions</h2><table class=\"renditions\"><thead><tr><th>Rendition</th><th>Kind</th>\
<th></th><th>Average</th><th>Peak segment</th><th>Size</th></tr></thead><tbody>",
        );
        for v in &d.renditions {
            s.push_str(&format!(
                "<tr data-rendition=\"{id}\"><td>{id}</td><td>{}</td><td>{}</td><td>{:.0} kbit/s</td>\
<td>{:.0} kbit/s</td><td>{}</td></tr>",
                v.kind,
                esc(&v.detail),
                v.average_kbps,
                v.peak_kbps,
                bytes(v.bytes),
                id = esc(&v.id),
            ));
        }
        s.push_str("</tbody></table>");
    }
    s
}

/// The title's job events (as at page load), oldest first.
fn events_table(events: &[workers::events::Event], unreadable: usize) -> String {
    let skipped = if unreadable > 0 {
        format!("<p class=\"error\">{unreadable} stored event(s) could not be read and are not shown.</p>")
    } else {
        String::new()
    };
    if events.is_empty() {
        return format!("{skipped}<p class=\"muted\">None.</p>");
    }
    let mut s = skipped;
    s.push_str(
        "<table class=\"events\"><thead><tr><th>#</th><th>Time</th><th>Event</th><th>Details</th>\
</tr></thead><tbody>",
    );
    for e in events {
        // The event's own JSON has `kind` and `details` side by side (flattened).
        let v = serde_json::to_value(&e.what).unwrap_or_default();
        let kind = v["kind"].as_str().unwrap_or("").to_string();
        let details = serde_json::to_string(&v["details"]).unwrap_or_default();
        s.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            e.seq,
            esc(&e.time),
            esc(&kind),
            esc(&details)
        ));
    }
    s.push_str("</tbody></table>");
    s
}

fn title_page_body(d: &TitleDetail) -> String {
    let r = &d.report;
    let href = path_segment(&r.title);
    let plot = if d.ladder_policy.is_some() {
        format!(
            "<h2>Ladder decision</h2><img class=\"plot\" alt=\"rate-quality points, hull and chosen rungs\" \
src=\"/titles/{href}/ladder.svg\">"
        )
    } else {
        String::new()
    };
    format!(
        "<h1>{id}</h1>{live}\
<section class=\"preview\" data-origin=\"/origin/{href}/\"><h2>Preview</h2>\
<p class=\"controls\"><label>Player <select id=\"player\"><option value=\"hls.js\">hls.js (HLS)</option>\
<option value=\"shaka\">Shaka (DASH)</option></select></label> \
<label>Rendition <select id=\"rendition\"><option value=\"auto\">auto</option></select></label> \
<label>Audio <select id=\"audio\"></select></label> <span id=\"playing\" class=\"muted\"></span></p>\
<video id=\"video\" controls muted playsinline></video>\
<p class=\"muted\" id=\"preview-note\">The preview starts once the title is published.</p></section>\
{plot}<h2>Events <span class=\"muted\">(as when the page was loaded)</span></h2>{events}<h2>Request</h2>{request}<h2>Master inspection</h2>{inspection}\
<script src=\"/assets/hls.min.js\"></script><script src=\"/assets/shaka-player.compiled.js\"></script>",
        id = esc(&r.title),
        live = live(&format!("/fragments/titles/{href}"), &title_live(d)),
        events = events_table(&d.events, d.events_unreadable),
        request = pre_json(&d.request),
        inspection = pre_json(&d.inspection),
    )
}

async fn title_page(
    State(c): State<Console>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let d = title_detail(c, &id).await?;
    Ok(html(page(&d.report.title, "Titles", &title_page_body(&d))))
}

async fn title_fragment(
    State(c): State<Console>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let d = title_detail(c, &id).await?;
    Ok(html(title_live(&d)))
}

async fn ladder_svg(
    State(c): State<Console>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let t = title_id(&id)?;
    let name = t.to_string();
    let d = blocking(move || views::decision(c.store.as_ref(), &t)).await?;
    let d = d.ok_or_else(|| ApiError::NotFound(format!("title '{id}' has no per-title ladder")))?;
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml")],
        ladders::plot_svg(&d, &name),
    )
        .into_response())
}

/// The farm page's live part: queues, dead letters, failed titles.
pub fn farm_live(f: &FarmView, failed: &[Report]) -> String {
    let mut s = String::from(
        "<h2>Queues</h2><table class=\"queues\"><thead><tr><th>Queue</th><th>Visible</th>\
<th>In flight</th><th>Dead-lettered</th></tr></thead><tbody>",
    );
    for q in &f.queues {
        s.push_str(&format!(
            "<tr data-queue=\"{n}\"><td>{n}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            q.depth,
            q.in_flight,
            q.dead_lettered,
            n = esc(&q.queue)
        ));
    }
    s.push_str("</tbody></table><h2>Dead letters</h2>");
    if f.dead_letters.is_empty() {
        s.push_str("<p class=\"muted\">None.</p>");
    } else {
        s.push_str(
            "<table class=\"dead-letters\"><thead><tr><th>Queue</th><th>Message</th><th>Body</th>\
<th>Reason</th><th></th></tr></thead><tbody>",
        );
        for d in &f.dead_letters {
            let base = format!(
                "/api/dead-letters/{}/{}",
                path_segment(&d.queue),
                path_segment(&d.id)
            );
            s.push_str(&format!(
                "<tr data-message=\"{id}\"><td>{q}</td><td><code>{id}</code></td><td><code>{body}</code></td>\
<td>{reason}</td><td><button data-post=\"{base}/requeue\">Requeue</button> \
<button data-post=\"{base}/discard\" class=\"danger\">Discard</button></td></tr>",
                q = esc(&d.queue),
                id = esc(&d.id),
                body = esc(&d.body),
                reason = esc(&d.reason),
            ));
        }
        s.push_str("</tbody></table>");
    }
    s.push_str("<h2>Failed titles</h2>");
    if failed.is_empty() {
        s.push_str("<p class=\"muted\">None.</p>");
    } else {
        s.push_str("<table class=\"failed\"><tbody>");
        for r in failed {
            s.push_str(&format!(
                "<tr data-title=\"{id}\"><td><a href=\"/titles/{href}\">{id}</a></td><td>{err}</td>\
<td><button data-post=\"/api/titles/{href}/retry\">Retry</button></td></tr>",
                id = esc(&r.title),
                href = path_segment(&r.title),
                err = r.error.as_deref().map(esc).unwrap_or_default(),
            ));
        }
        s.push_str("</tbody></table>");
    }
    s
}

async fn farm_data(c: Console) -> Result<String, ApiError> {
    blocking(move || -> Result<String, ApiError> {
        let f = views::farm(c.queue.as_ref())?;
        let failed = views::titles(c.store.as_ref(), Some(TitleState::Failed))?;
        Ok(farm_live(&f, &failed))
    })
    .await?
}

async fn farm_page(State(c): State<Console>) -> Result<Response, PageError> {
    let inner = farm_data(c).await?;
    Ok(html(page(
        "Farm",
        "Farm",
        &format!("<h1>Farm</h1>{}", live("/fragments/farm", &inner)),
    )))
}

async fn farm_fragment(State(c): State<Console>) -> Result<Response, PageError> {
    Ok(html(farm_data(c).await?))
}

/// The placement page's live part: every appliance.
pub fn placement_live(list: &[ApplianceView]) -> String {
    if list.is_empty() {
        return "<p class=\"muted\">No fleet yet: <code>vodfarm place --fleet FILE</code> stores one.</p>"
            .into();
    }
    let mut s = String::from(
        "<table class=\"appliances\"><thead><tr><th>Appliance</th><th>Site</th><th>Health</th>\
<th>Plan</th><th>Holds</th><th>Tonight: add / remove</th><th>Window</th><th>Last fill</th></tr></thead><tbody>",
    );
    for a in list {
        let health = match a.healthy {
            Some(true) => "<span class=\"state published\">ok</span>".to_string(),
            Some(false) => format!(
                "<span class=\"state failed\">unhealthy</span> {}",
                esc(&a.errors.join("; "))
            ),
            None => "<span class=\"muted\">no report</span>".into(),
        };
        let over = a.add_bytes > a.window_bytes;
        s.push_str(&format!(
            "<tr data-appliance=\"{id}\"><td>{id}</td><td>{site}</td><td>{health}</td>\
<td>{pt} titles, {pb}</td><td>{held}</td><td class=\"{cls}\">{add} / {remove}</td>\
<td>{w0:02}:00–{w1:02}:00, {wb}</td><td>{last}</td></tr>",
            id = esc(&a.appliance),
            site = esc(&a.site),
            pt = a.plan_titles,
            pb = bytes(a.plan_bytes),
            held = match (a.held_bytes, a.held_titles) {
                (Some(b), Some(t)) => format!("{t} titles, {}", bytes(b)),
                _ => "—".into(),
            },
            cls = if over { "error" } else { "" },
            add = bytes(a.add_bytes),
            remove = bytes(a.remove_bytes),
            w0 = a.window.0,
            w1 = a.window.1,
            wb = bytes(a.window_bytes),
            last = match (a.reported_unix, a.last_fill_bytes) {
                (Some(t), Some(b)) => format!(
                    "{}, {}{}",
                    time_ms(t * 1000),
                    bytes(b),
                    a.last_fill_stopped
                        .as_deref()
                        .map(|w| format!(", stopped: {}", esc(w)))
                        .unwrap_or_default()
                ),
                _ => "—".into(),
            },
        ));
    }
    s.push_str("</tbody></table>");
    s
}

async fn placement_page(State(c): State<Console>) -> Result<Response, PageError> {
    let list = blocking(move || views::placement(c.store.as_ref())).await??;
    Ok(html(page(
        "Placement",
        "Placement",
        &format!(
            "<h1>Placement</h1>{}",
            live("/fragments/placement", &placement_live(&list))
        ),
    )))
}

async fn placement_fragment(State(c): State<Console>) -> Result<Response, PageError> {
    let list = blocking(move || views::placement(c.store.as_ref())).await??;
    Ok(html(placement_live(&list)))
}

/// The pages and their fragments.
pub fn routes() -> Router<Console> {
    Router::new()
        .route("/", get(titles_page))
        .route("/fragments/titles", get(titles_fragment))
        .route("/titles/{id}", get(title_page))
        .route("/titles/{id}/ladder.svg", get(ladder_svg))
        .route("/fragments/titles/{id}", get(title_fragment))
        .route("/farm", get(farm_page))
        .route("/fragments/farm", get(farm_fragment))
        .route("/placement", get(placement_page))
        .route("/fragments/placement", get(placement_fragment))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_on_pages_are_pages() {
        let e = PageError(ApiError::NotFound("no title '<b>x</b>'".into()));
        let res = e.into_response();
        assert_eq!(res.status(), axum::http::StatusCode::NOT_FOUND);
        assert!(res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("<h1>404 Not Found</h1>"), "{text}");
        assert!(
            text.contains("no title &#39;&lt;b&gt;x&lt;/b&gt;&#39;"),
            "{text}"
        );
    }
}
