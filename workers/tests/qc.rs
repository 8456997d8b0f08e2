//! Master inspection (QC) through the library: a master that grows between probing
//! and upload is refused at submit with both sizes and nothing stored; the detectors
//! find the fixtures' black, frozen and silent stretches where they are; clean
//! masters (the fixtures, a cut of real footage) inspect clean.

use std::path::PathBuf;

use workers::queue::LocalQueue;
use workers::store::{LocalStore, ObjectStore};
use workers::submit::{enqueue, request_for, TitleSettings};
use workers::{FarmError, TitleId};

fn dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("qc-fixtures");
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_master_growing_between_probe_and_upload_is_refused_with_both_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let g = fixtures::qc::growing_ts(tmp.path(), "uploading.ts").unwrap();
    let (before, after) = g.sizes().unwrap();
    let title = TitleId::parse("growing").unwrap();
    let settings = TitleSettings {
        ladder: "benchmark".into(),
        ..TitleSettings::default()
    };
    // Probed and hashed while the upload is at 40%...
    let request = request_for(&title, &g.path, &settings).unwrap();
    assert_eq!(request.master_bytes, before);
    // ...and the uploader writes the rest before our copy is made.
    g.grow().unwrap();
    let store = LocalStore::open(&tmp.path().join("store")).unwrap();
    let queue = LocalQueue::open(&tmp.path().join("store/queues"), 5).unwrap();
    let err = enqueue(&store, &queue, &title, &g.path, &[], &request).unwrap_err();
    assert!(
        matches!(err, FarmError::MasterChanged { before: b, after: a, .. } if b == before && a == after),
        "{err:?}"
    );
    let line = workers::error::one_line(&err);
    assert!(
        line.starts_with("master is growing: ")
            && line.contains(&format!("{before} bytes"))
            && line.contains(&format!("{after} bytes")),
        "{line}"
    );
    assert!(!err.is_transient());
    // Nothing stored: no master, no request, no status, no ingest queued.
    assert_eq!(store.list("").unwrap(), Vec::<String>::new());
    assert_eq!(workers::progress::backlog(&queue).unwrap(), 0);
}

fn near(got: &media::Stretch, want: (f64, f64)) -> bool {
    (got.start_s - want.0).abs() <= 0.5 && (got.end_s - want.1).abs() <= 0.5
}

#[test]
fn black_frozen_and_silent_stretches_are_found_where_they_are() {
    let m = fixtures::qc::stretches(&dir()).unwrap();
    let i = media::inspect(&m, &workers::qc::options()).unwrap();
    assert!(i.truncated().is_none(), "{:?}", i.truncated());
    assert_eq!(i.black.len(), 1, "{:?}", i.black);
    assert!(near(&i.black[0], fixtures::qc::BLACK), "{:?}", i.black);
    assert_eq!(i.frozen.len(), 1, "{:?}", i.frozen);
    assert!(near(&i.frozen[0], fixtures::qc::FROZEN), "{:?}", i.frozen);
    assert_eq!(i.audio.len(), 1);
    assert_eq!(i.audio[0].silent.len(), 1, "{:?}", i.audio[0].silent);
    assert!(
        near(&i.audio[0].silent[0], fixtures::qc::SILENT),
        "{:?}",
        i.audio
    );
    assert_eq!(i.warnings().len(), 3, "{:?}", i.warnings());
}

#[test]
fn clean_masters_inspect_clean() {
    for m in fixtures::masters() {
        let path = m.write(&dir()).unwrap();
        let i = media::inspect(&path, &workers::qc::options()).unwrap();
        let c = &i.completeness;
        assert!(i.truncated().is_none(), "{}: {:?}", m.name, i.truncated());
        assert_eq!(c.decoded_frames, m.frames, "{}", m.name);
        assert_eq!(
            (c.demux_errors, c.decode_errors, c.damaged_frames),
            (0, 0, 0),
            "{}",
            m.name
        );
        assert_eq!(i.warnings(), Vec::<String>::new(), "{}", m.name);
        assert_eq!(i.audio.len(), usize::from(m.audio), "{}", m.name);
        assert_eq!((i.geometry.width, i.geometry.height), (m.width, m.height));
        assert_eq!(i.timing.nominal_rate, Some(m.fps), "{}", m.name);
        assert!(!i.timing.variable && !i.interlace.interlaced, "{}", m.name);
        assert_eq!(i.colour.bit_depth, 8);
        assert!(i.colour.hdr.is_none());
    }
}

#[test]
fn real_footage_inspects_clean() {
    let cut = fixtures::qc::footage_cut(&dir(), 30, 4).unwrap();
    let i = media::inspect(&cut, &workers::qc::options()).unwrap();
    assert!(i.truncated().is_none(), "{:?}", i.truncated());
    assert_eq!(i.completeness.decoded_frames, 96);
    assert_eq!(i.warnings(), Vec::<String>::new());
    assert_eq!((i.geometry.width, i.geometry.height), (1280, 720));
    assert_eq!(i.interlace.field_order, "progressive");
    assert!(
        i.interlace.progressive > 0 && !i.interlace.interlaced,
        "{:?}",
        i.interlace
    );
}

/// Run every queued job, one at a time, until the queues are empty.
fn drain(ctx: &workers::stages::Ctx) {
    let s = workers::runner::Settings::default();
    while workers::runner::process_one(ctx, &s, false).unwrap() {}
}

#[test]
fn submitted_truncated_master_fails_at_ingest_then_takes_accept_truncated() {
    use std::sync::Arc;
    use workers::status::State;
    let tmp = tempfile::tempdir().unwrap();
    let master = fixtures::qc::truncated_ts(&dir()).unwrap();
    let store = Arc::new(LocalStore::open(&tmp.path().join("store")).unwrap());
    let queue = Arc::new(LocalQueue::open(&tmp.path().join("store/queues"), 5).unwrap());
    let ctx = workers::stages::Ctx {
        store: store.clone(),
        queue: queue.clone(),
        scratch: tmp.path().join("scratch"),
    };
    let t = TitleId::parse("cut").unwrap();
    let mut settings = TitleSettings {
        ladder: "benchmark".into(),
        ..TitleSettings::default()
    };
    // `submit` does not decode: the farm's ingest inspects the stored copy.
    let request = request_for(&t, &master, &settings).unwrap();
    enqueue(store.as_ref(), queue.as_ref(), &t, &master, &[], &request).unwrap();
    drain(&ctx);
    let st = workers::status::read(store.as_ref(), &t).unwrap();
    assert_eq!(st.state, State::Failed);
    let why = st.error.unwrap();
    assert!(
        why.starts_with("master is truncated: the file ends inside a frame: "),
        "{why}"
    );
    let rec = workers::qc::read(store.as_ref(), &t).unwrap();
    assert_eq!(rec.verdict, "refused");
    assert_eq!(why, rec.truncated.clone().unwrap());
    assert!(!store.exists(&workers::keys::plan(&t)).unwrap());
    assert_eq!(store.list("origin/").unwrap(), Vec::<String>::new());
    // The same title takes --accept-truncated (it was never planned) and publishes
    // exactly the frames that decode whole.
    settings.accept_truncated = true;
    let request = request_for(&t, &master, &settings).unwrap();
    let s = enqueue(store.as_ref(), queue.as_ref(), &t, &master, &[], &request).unwrap();
    assert_eq!(s, workers::submit::Submitted::New);
    drain(&ctx);
    let st = workers::status::read(store.as_ref(), &t).unwrap();
    assert_eq!(st.state, State::Published, "{:?}", st.error);
    let rec = workers::qc::read(store.as_ref(), &t).unwrap();
    assert_eq!(rec.verdict, "accepted-truncated");
    assert!(rec.summary().contains("accepted (--accept-truncated)"));
    let plan: workers::plan::Plan =
        serde_json::from_slice(&store.get(&workers::keys::plan(&t)).unwrap()).unwrap();
    assert_eq!(Some(plan.frame_count), rec.published_frames);
    let whole = rec.inspection.completeness.decoded_frames;
    assert!(
        plan.frame_count <= whole && plan.frame_count > 0,
        "{} of {whole}",
        plan.frame_count
    );
    assert!(store
        .exists(&workers::keys::origin(&t, "master.m3u8"))
        .unwrap());
}

/// A change of picture size mid-stream starts a shot (scdet cannot compare across it;
/// a change of pixel format is marked the same way),
/// at the first frame of the new size.
#[test]
fn a_new_picture_size_starts_a_shot() {
    let m = fixtures::qc::size_change(&dir()).unwrap();
    let i = media::inspect(&m, &workers::qc::options()).unwrap();
    assert!(
        i.shots.iter().any(|s| (s - 2.0).abs() < 0.5 / 25.0),
        "{:?}",
        i.shots
    );
}

#[test]
fn interlace_hdr_rotation_and_vfr_are_measured() {
    let opts = workers::qc::options();
    let i = media::inspect(&fixtures::convert::interlaced(&dir()).unwrap(), &opts).unwrap();
    assert_eq!(i.interlace.field_order, "tt");
    assert!(i.interlace.interlaced, "{:?}", i.interlace);
    assert!(
        i.interlace.tff > 10 * i.interlace.bff.max(1) / 2,
        "{:?}",
        i.interlace
    );

    let i = media::inspect(&fixtures::convert::hdr10(&dir()).unwrap(), &opts).unwrap();
    let c = &i.colour;
    assert_eq!(
        (c.primaries.as_str(), c.transfer.as_str(), c.matrix.as_str()),
        ("bt2020", "smpte2084", "bt2020nc")
    );
    assert_eq!((c.bit_depth, c.hdr.as_deref()), (10, Some("pq")));
    let md = c.mastering_display.as_ref().expect("mastering display");
    assert!((md.max_luminance - 1000.0).abs() < 1e-6 && (md.min_luminance - 0.0001).abs() < 1e-9);
    // R(34000,16000) in 0.00002 units: (0.68, 0.32).
    assert!((md.primaries[0][0] - 0.68).abs() < 1e-6 && (md.primaries[0][1] - 0.32).abs() < 1e-6);
    let cl = c.content_light.as_ref().expect("content light");
    assert_eq!((cl.max_cll, cl.max_fall), (1000, 400));
    assert!(i.warnings().iter().any(|w| w == "HDR (pq)"));

    let i = media::inspect(&fixtures::convert::rotated(&dir()).unwrap(), &opts).unwrap();
    assert_eq!((i.geometry.rotation, i.geometry.flipped), (90, false));
    assert!(i.geometry.display_matrix.is_some());

    let i = media::inspect(&fixtures::convert::vfr(&dir()).unwrap(), &opts).unwrap();
    let t = &i.timing;
    assert!(t.variable, "{t:?}");
    // 30 fps with every tenth frame dropped, 4 s.
    assert_eq!(i.completeness.decoded_frames, 108);
    assert!((t.mean_rate - 27.0).abs() < 0.5, "{t:?}");
    assert!((t.longest_interval_s - 2.0 / 30.0).abs() < 1e-3, "{t:?}");
}

/// Pictures that stop after 1 s while the sound runs 4 s: refused as truncated with
/// both lengths (published, the title would be 1 s and three seconds of sound gone),
/// unless the request accepts a truncated master.
#[test]
fn video_that_ends_seconds_before_its_audio_is_truncated() {
    let m = fixtures::qc::video_ends_early_mp4(&dir()).unwrap();
    let i = media::inspect(&m, &workers::qc::options()).unwrap();
    let t = i.truncated().expect("truncated");
    assert!(
        matches!(t, media::Truncated::VideoEndsEarly { decoded: 25, audio_s, .. } if (audio_s - 4.0).abs() < 0.1),
        "{t:?}"
    );
    assert!(
        t.to_string().starts_with("master is truncated: its video ends after 1.00 s (25 frames) but audio stream 1 runs 4.0"),
        "{t}"
    );
    // A master whose audio and video end together is not.
    let full = fixtures::qc::full_ts(&dir()).unwrap();
    assert_eq!(
        media::inspect(&full, &workers::qc::options())
            .unwrap()
            .truncated(),
        None
    );
}
