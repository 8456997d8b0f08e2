//! `packager` turns encoded samples into CMAF: one init segment per rendition and one
//! media segment per cell of the segment grid, with every keyframe starting a fragment
//! so that I-frame playlists can address each one by byte range.
//!
//! Pure: it takes bytes and values and returns bytes and values. It never touches
//! FFmpeg, files or the network. Boxes are written by hand (see `boxes`) because the
//! set we need is small and fixed, and hand-writing keeps the exact bytes (and thus
//! byte-identical outputs across runs) under our control; tests read them back with
//! the independent `mp4-atom` parser and FFmpeg.

mod boxes;
mod error;
mod init;
mod segment;
mod track;

pub use error::PackagerError;
pub use init::init_segment;
pub use segment::{cut_segments, IFrame, Segment, SegmentCut};
pub use track::{Codec, Colr, Sample, TrackChunk};
