//! Submitting a title: validate the master and its settings before anything is
//! written (the request), then upload the master, write the request and status, and
//! queue the ingest. The same for `vodfarm run` and `vodfarm submit`, and for a retry.

use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::messages::{Job, Message};
use crate::plan::{LadderSpec, Request};
use crate::queue::Queue;
use crate::status::{self, State};
use crate::store::{ObjectStore, StoreError};
use crate::{keys, FarmError, TitleId};

/// The built-in per-title ladder's name.
pub const PER_TITLE: &str = "per-title";

/// What a title is made with, as the user gave it.
#[derive(Debug, Clone)]
pub struct TitleSettings {
    /// `per-title`, a built-in fixed ladder, or a TOML file (fixed ladder or policy).
    pub ladder: String,
    /// Target segment length in seconds (default 4).
    pub segment_seconds: f64,
    /// Segments per chunk, the unit of one encode job (default 2).
    pub chunk_segments: u32,
    /// Popularity hint for placement, used until viewing statistics exist.
    pub tier: Option<placement::Tier>,
    /// Publish what decodes of a truncated master instead of refusing it.
    pub accept_truncated: bool,
    /// Audio track languages as given (`1=fr`: track 1, 1-based in stream order).
    pub audio_lang: Vec<String>,
    /// Integrated loudness target, LKFS.
    pub loudness_lkfs: f64,
    /// True-peak ceiling, dBTP.
    pub true_peak_dbtp: f64,
    /// Subtitle sidecars (`--subtitles LANG=FILE`).
    pub subtitles: Vec<crate::subtitles::SubtitleInput>,
    /// Give shot changes found at ingest an IDR of their own in every rendition
    /// (default); off, only the grid's IDRs and x264's own scene cuts.
    pub shot_idrs: bool,
}

impl Default for TitleSettings {
    fn default() -> Self {
        Self {
            ladder: PER_TITLE.into(),
            segment_seconds: 4.0,
            chunk_segments: 2,
            tier: None,
            accept_truncated: false,
            audio_lang: Vec::new(),
            loudness_lkfs: crate::plan::DEFAULT_LOUDNESS_LKFS,
            true_peak_dbtp: crate::plan::DEFAULT_TRUE_PEAK_DBTP,
            subtitles: Vec::new(),
            shot_idrs: true,
        }
    }
}

/// The audio part of a request: `--audio-lang N=CODE` checked against the master's
/// audio tracks and the language table, the loudness target against its range.
pub fn audio_request(
    probe: &media::ProbeInfo,
    audio_lang: &[String],
    loudness_lkfs: f64,
    true_peak_dbtp: f64,
) -> Result<crate::plan::AudioRequest, FarmError> {
    use crate::plan::{LOUDNESS_RANGE, TRUE_PEAK_RANGE};
    let tracks = probe.audio_tracks.len();
    let mut languages = std::collections::BTreeMap::new();
    for given in audio_lang {
        let (n, code) = given.split_once('=').ok_or_else(|| {
            FarmError::Permanent(format!(
                "--audio-lang '{given}': expected TRACK=LANGUAGE, for example 1=fr"
            ))
        })?;
        let track: u32 = n
            .trim()
            .parse()
            .ok()
            .filter(|&t| t >= 1 && t as usize <= tracks)
            .ok_or_else(|| {
                FarmError::Permanent(format!(
                    "--audio-lang '{given}': track '{n}' is not one of the master's audio tracks (1..={tracks}, in stream order)"
                ))
            })?;
        let tag = manifests::language::normalise(code)
            .map_err(|e| FarmError::Permanent(format!("--audio-lang '{given}': {e}")))?;
        if languages.insert(track, tag).is_some() {
            return Err(FarmError::Permanent(format!(
                "--audio-lang: track {track} is given more than once"
            )));
        }
    }
    if !LOUDNESS_RANGE.contains(&loudness_lkfs) {
        return Err(FarmError::Permanent(format!(
            "--loudness {loudness_lkfs} LKFS is outside {}..={}",
            LOUDNESS_RANGE.start(),
            LOUDNESS_RANGE.end()
        )));
    }
    if !TRUE_PEAK_RANGE.contains(&true_peak_dbtp) {
        return Err(FarmError::Permanent(format!(
            "--true-peak {true_peak_dbtp} dBTP is outside {}..={}",
            TRUE_PEAK_RANGE.start(),
            TRUE_PEAK_RANGE.end()
        )));
    }
    Ok(crate::plan::AudioRequest {
        languages,
        loudness_lkfs,
        true_peak_dbtp,
    })
}

impl TitleSettings {
    /// The subtitle sidecars' files, in the order the request lists them.
    pub fn subtitle_files(&self) -> Vec<PathBuf> {
        self.subtitles.iter().map(|s| s.path.clone()).collect()
    }
}

/// What became of a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// A new title: its ingest is queued.
    New,
    /// The title exists with this same master and settings: left as it is.
    Exists,
}

/// `per-title`, a built-in fixed ladder, or a TOML file holding either a fixed ladder
/// or a per-title policy (told apart by the policy's `[analysis]` table).
pub fn load_ladder(spec: &str) -> Result<LadderSpec, FarmError> {
    if spec == PER_TITLE {
        return Ok(LadderSpec::PerTitle {
            policy: ladders::builtin_policy(),
        });
    }
    if ladders::builtin_names().contains(&spec) {
        return Ok(LadderSpec::Fixed {
            ladder: ladders::builtin(spec)?,
        });
    }
    let p = Path::new(spec);
    if p.extension().is_some_and(|e| e == "toml") || p.exists() {
        let text =
            std::fs::read_to_string(p).map_err(FarmError::io(format!("ladder file {spec}")))?;
        let is_policy = text
            .parse::<toml::Table>()
            .is_ok_and(|t| t.contains_key("analysis"));
        let bad =
            |e: ladders::LadderError| FarmError::Permanent(format!("ladder file {spec}: {e}"));
        return if is_policy {
            let policy = ladders::PerTitlePolicy::parse(&text).map_err(bad)?;
            Ok(LadderSpec::PerTitle { policy })
        } else {
            let ladder = ladders::Ladder::parse(&text).map_err(bad)?;
            Ok(LadderSpec::Fixed { ladder })
        };
    }
    Err(FarmError::Permanent(format!(
        "unknown ladder '{spec}' (built in: {PER_TITLE}, {}; or a .toml file)",
        ladders::builtin_names().join(", ")
    )))
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String, FarmError> {
    let what = || format!("reading {}", path.display());
    let mut f = std::fs::File::open(path).map_err(FarmError::io(what()))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(FarmError::io(what()))?;
    Ok(hex::encode(h.finalize()))
}

/// Validate a master and its settings before anything is written: the request.
pub fn request_for(
    title: &TitleId,
    master: &Path,
    settings: &TitleSettings,
) -> Result<Request, FarmError> {
    let TitleSettings {
        ladder,
        segment_seconds,
        chunk_segments,
        tier,
        accept_truncated,
        audio_lang,
        loudness_lkfs,
        true_peak_dbtp,
        subtitles,
        shot_idrs,
    } = settings;
    let (segment_seconds, chunk_segments, tier) = (*segment_seconds, *chunk_segments, *tier);
    // A master still being written (an upload in progress) must not be taken: its
    // size and time are noted before it is probed and compared after it is hashed.
    let before = file_state(master)?;
    let probe = media::probe(master)?;
    // Refuse what cannot be converted faithfully before anything is uploaded.
    media::Conversion::for_file(master, &probe)?;
    let audio = audio_request(&probe, audio_lang, *loudness_lkfs, *true_peak_dbtp)?;
    let ladder = load_ladder(ladder)?;
    if !(1..=64).contains(&chunk_segments) {
        return Err(FarmError::Permanent(format!(
            "--chunk-segments {chunk_segments} is outside 1..=64"
        )));
    }
    ladders::plan_grid(
        probe.frame_rate.num,
        probe.frame_rate.den,
        segment_seconds,
        &[1],
    )?;
    let subtitles = crate::subtitles::check(title, subtitles, probe.duration_s)?;
    let ext = match probe.container.as_str() {
        "mov,mp4,m4a,3gp,3g2,mj2" => "mp4",
        "matroska,webm" => "mkv",
        "mxf" => "mxf",
        "mpegts" => "ts",
        "yuv4mpegpipe" => "y4m",
        _ => "bin",
    };
    let master_sha256 = sha256_file(master)?;
    let after = file_state(master)?;
    if after != before {
        return Err(FarmError::MasterChanged {
            path: master.display().to_string(),
            before: before.0,
            after: after.0,
            when: if after.0 == before.0 {
                "after reading it, and modified meanwhile"
            } else {
                "after reading it"
            },
        });
    }
    Ok(Request {
        master_key: keys::master(title, ext),
        master_sha256,
        ladder,
        segment_seconds,
        chunk_segments,
        tier,
        subtitles,
        accept_truncated: *accept_truncated,
        master_bytes: before.0,
        audio,
        shot_idrs: *shot_idrs,
    })
}

/// A file's size and modification time: what changes while it is being written.
fn file_state(path: &Path) -> Result<(u64, Option<std::time::SystemTime>), FarmError> {
    let m = std::fs::metadata(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => {
            FarmError::Media(media::MediaError::NotFound { path: path.into() })
        }
        _ => FarmError::Io {
            what: format!("reading {}", path.display()),
            source,
        },
    })?;
    Ok((m.len(), m.modified().ok()))
}

/// After the upload: the local master must still be what was probed and hashed, and
/// the stored copy exactly that many bytes (a file still growing uploads more).
fn check_upload(
    store: &dyn ObjectStore,
    master: &Path,
    request: &Request,
) -> Result<(), FarmError> {
    let want = request.master_bytes;
    let local = std::fs::metadata(master)
        .map_err(FarmError::io(format!("reading {}", master.display())))?
        .len();
    if local != want {
        return Err(FarmError::MasterChanged {
            path: master.display().to_string(),
            before: want,
            after: local,
            when: "after uploading it",
        });
    }
    let key = &request.master_key;
    let stored = match store.local_path(key) {
        Some(p) => std::fs::metadata(&p)
            .map_err(FarmError::io(format!("reading {}", p.display())))?
            .len(),
        // Remote: read from the last expected byte on; exactly one byte is there.
        None if want > 0 => {
            let mut r = store.read_from(key, want - 1)?;
            let n = std::io::copy(&mut r, &mut std::io::sink())
                .map_err(FarmError::io(format!("reading back {key}")))?;
            want - 1 + n
        }
        None => want,
    };
    if stored != want {
        return Err(FarmError::MasterChanged {
            path: key.clone(),
            before: want,
            after: stored,
            when: "as stored",
        });
    }
    Ok(())
}

/// Upload the master and the subtitle sidecars (`subtitle_files`, in the order of
/// `request.subtitles`), write the request and status, queue the ingest. A title that
/// exists with the same request is left as it is; with another, refused; a failed one
/// is refused with its error (see [`crate::retry::retry`]). Only a missing request counts as a new
/// title: any other error reading it (a timeout, a refused permission) is returned, so
/// that a transient fault never re-uploads a master or resets a status.
pub fn enqueue(
    store: &dyn ObjectStore,
    queue: &dyn Queue,
    title: &TitleId,
    master: &Path,
    subtitle_files: &[PathBuf],
    request: &Request,
) -> Result<Submitted, FarmError> {
    if subtitle_files.len() != request.subtitles.len() {
        return Err(FarmError::Permanent(format!(
            "{} subtitle files for {} subtitle tracks in the request",
            subtitle_files.len(),
            request.subtitles.len()
        )));
    }
    let key = keys::request(title);
    match store.get(&key) {
        Ok(bytes) if replaceable(store, title, &bytes, request)? => {
            // Refused at ingest before it was planned (a truncated master): the
            // complete master, or the same one with --accept-truncated, starts it anew.
            submit_new(store, queue, title, master, subtitle_files, request)
        }
        Ok(bytes) => {
            let existing: Request =
                serde_json::from_slice(&bytes).map_err(|source| FarmError::Json {
                    key: key.clone(),
                    source,
                })?;
            if &existing != request {
                return Err(FarmError::Permanent(format!(
                    "title '{title}' already exists with a different master or settings; use another --title"
                )));
            }
            let st = status::read(store, title);
            if let Some(s) = st.filter(|s| s.state == State::Failed) {
                return Err(FarmError::Permanent(format!(
                    "title '{title}' failed earlier: {} (`vodfarm retry {title}`, or `vodfarm run --retry`, resumes it)",
                    s.error.unwrap_or_default()
                )));
            }
            // A submit that stopped between the request and the ingest message (a
            // crash, a network fault) is finished by submitting again: while the title
            // is still Submitted, send the ingest again (a duplicate is harmless:
            // ingest is idempotent).
            if status::read(store, title).is_none_or(|s| s.state == State::Submitted) {
                let m = Message::new(Job::Ingest {
                    title: title.clone(),
                });
                queue.send(m.queue(), &m.encode())?;
            }
            Ok(Submitted::Exists)
        }
        Err(StoreError::NotFound { .. }) => {
            submit_new(store, queue, title, master, subtitle_files, request)
        }
        Err(e) => Err(e.into()),
    }
}

/// A title whose request differs from `request`, that failed and was never planned.
fn replaceable(
    store: &dyn ObjectStore,
    title: &TitleId,
    existing: &[u8],
    request: &Request,
) -> Result<bool, FarmError> {
    let differs = serde_json::from_slice::<Request>(existing).map_or(true, |e| &e != request);
    Ok(differs
        && status::read(store, title).is_some_and(|s| s.state == State::Failed)
        && !store.exists(&keys::plan(title))?)
}

fn submit_new(
    store: &dyn ObjectStore,
    queue: &dyn Queue,
    title: &TitleId,
    master: &Path,
    subtitle_files: &[PathBuf],
    request: &Request,
) -> Result<Submitted, FarmError> {
    let key = keys::request(title);
    {
        {
            // The master first: a request never names a master that is not there.
            store.put_file(&request.master_key, master)?;
            if let Err(e) = check_upload(store, master, request) {
                // Nothing names it yet; a later submit uploads it again.
                let _ = store.delete(&request.master_key);
                return Err(e);
            }
            for (s, file) in request.subtitles.iter().zip(subtitle_files) {
                store.put_file(&s.key, file)?;
            }
            store.put(
                &key,
                &serde_json::to_vec_pretty(request).expect("serialisable"),
            )?;
            status::write(store, &status::TitleStatus::new(title, State::Submitted))?;
            let m = Message::new(Job::Ingest {
                title: title.clone(),
            });
            queue.send(m.queue(), &m.encode())?;
            crate::events::emit(store, title, crate::events::submitted(request));
            Ok(Submitted::New)
        }
    }
}
