//! `manifests` writes HLS playlists (with m3u8-rs) and the DASH MPD from one neutral
//! [`Presentation`], so both manifests always describe the same segments. Bitrates in
//! the manifests are measured from the segments, never copied from the ladder.
//! Pure: values in, text out.

mod codec;
mod dash;
mod hls;
pub mod language;
mod model;

pub use codec::{avc_codec_string, CodecError};
pub use dash::mpd;
pub use hls::{
    audio_groups, audio_playlist, iframe_playlist, master_playlist, media_playlist, AUDIO_GROUP,
    SUBTITLE_GROUP,
};
pub use model::{AudioTrack, IFrameInfo, Presentation, SegmentInfo, SubtitleTrack, VideoTrack};
