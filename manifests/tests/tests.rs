//! The manifests' integration tests, one binary: HLS read back with m3u8-rs, the MPD
//! with dash-mpd-core, golden files, codec strings.

mod codec;
mod dash;
mod golden;
mod hls;
mod subtitles;
mod support;
mod tracks;
