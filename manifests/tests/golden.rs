//! Exact text of every manifest for the hand-built presentation, against files under
//! tests/golden/ (review a change, then `VODFARM_BLESS=1 cargo test -p manifests`).

use manifests::{audio_playlist, iframe_playlist, master_playlist, media_playlist, mpd};

use crate::support::*;

#[test]
fn master() {
    golden("master.m3u8", &master_playlist(&presentation()));
}

#[test]
fn video_playlists() {
    let p = presentation();
    let v = &p.video[1];
    golden(
        "v540-playlist.m3u8",
        &media_playlist(&v.segments, v.timescale),
    );
    golden("v540-iframes.m3u8", &iframe_playlist(v));
}

#[test]
fn audio() {
    golden(
        "audio-playlist.m3u8",
        &audio_playlist(&presentation().audio[0]),
    );
}

#[test]
fn dash() {
    golden("manifest.mpd", &mpd(&presentation()));
}

#[test]
fn output_does_not_depend_on_anything_but_the_presentation() {
    let (a, b) = (presentation(), presentation());
    assert_eq!(master_playlist(&a), master_playlist(&b));
    assert_eq!(mpd(&a), mpd(&b));
}
