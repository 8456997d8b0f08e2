//! The encoded-chunk file: what an encode stage writes for one rendition and one chunk
//! (`work/<title>/enc/<rendition>/<chunk>`) and the packager reads back.
//!
//! Layout: the magic `VFTRACK1`, a little-endian u32 header length, a JSON header
//! (codec configuration, time scale, sample table), then the sample payloads back to
//! back. JSON keeps the header readable with standard tools; the payload stays raw.

use serde::{Deserialize, Serialize};

use crate::PackagerError;

const MAGIC: &[u8; 8] = b"VFTRACK1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Codec {
    /// H.264 with its AVCDecoderConfigurationRecord.
    Avc {
        avcc: Vec<u8>,
        width: u32,
        height: u32,
        /// The colour description for the `colr` box (the same as the SPS's VUI).
        #[serde(default)]
        colour: Option<Colr>,
    },
    /// AAC with its AudioSpecificConfig.
    Aac {
        asc: Vec<u8>,
        channels: u16,
        sample_rate: u32,
    },
}

/// An `nclx` colour description (ISO/IEC 23091-2 code points), as in the `colr` box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Colr {
    pub primaries: u8,
    pub transfer: u8,
    pub matrix: u8,
    pub full_range: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// Absolute decode time in the track's time scale.
    pub dts: u64,
    /// Presentation time minus decode time (negative for reordered B-frames).
    pub cts_offset: i32,
    pub duration: u32,
    pub sync: bool,
    pub size: u32,
}

impl Sample {
    pub fn pts(&self) -> i64 {
        // Saturating: a damaged chunk file can hold any u64 decode time, and
        // `dts as i64 + cts` overflowed (a panic in debug builds) for decode times
        // at or near 2^63. Such a time then fails the grid checks instead.
        i64::try_from(self.dts)
            .unwrap_or(i64::MAX)
            .saturating_add(self.cts_offset as i64)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackChunk {
    pub track: String,
    pub codec: Codec,
    pub timescale: u32,
    /// Ticks by which presentation is delayed so that no composition offset is
    /// negative: the encoder's reorder depth times the frame duration (0 for audio and
    /// for video without B-frames). The packager adds it to every composition offset
    /// (trun version 0) and the init segment's edit list takes it back, so that the
    /// first frame is presented at 0 by every reader. FFmpeg's mov reader shifts a
    /// fragmented track with negative offsets and no edit list late by the largest
    /// negative offset instead (video 80 ms behind audio at 25 fps). Every chunk of a
    /// rendition has the same value.
    #[serde(default)]
    pub reorder_delay: u32,
    pub samples: Vec<Sample>,
    #[serde(skip)]
    pub payload: Vec<u8>,
}

impl TrackChunk {
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(self).expect("serialisable");
        let mut out = Vec::with_capacity(12 + header.len() + self.payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.payload);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PackagerError> {
        let bad = |detail: String| PackagerError::BadChunkFile { detail };
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(bad("missing VFTRACK1 magic".into()));
        }
        let hlen = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
        let body = bytes
            .get(12..12 + hlen)
            .ok_or_else(|| bad(format!("header length {hlen} past the end")))?;
        let mut t: TrackChunk = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
        t.payload = bytes[12 + hlen..].to_vec();
        let total: u64 = t.samples.iter().map(|s| s.size as u64).sum();
        if total != t.payload.len() as u64 {
            return Err(bad(format!(
                "sample sizes add up to {total} bytes but the payload has {}",
                t.payload.len()
            )));
        }
        Ok(t)
    }

    /// Byte offset of each sample in the payload.
    pub fn offsets(&self) -> Vec<usize> {
        let mut off = 0usize;
        self.samples
            .iter()
            .map(|s| {
                let o = off;
                off += s.size as usize;
                o
            })
            .collect()
    }
}
