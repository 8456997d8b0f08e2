//! The encoded-chunk file (`VFTRACK1`): round trip, layout, and the errors a damaged
//! file gives.

use packager::{PackagerError, TrackChunk};

use crate::support::*;

fn detail(bytes: &[u8]) -> String {
    match TrackChunk::from_bytes(bytes) {
        Err(PackagerError::BadChunkFile { detail }) => detail,
        other => panic!("expected BadChunkFile: {other:?}"),
    }
}

#[test]
fn round_trips_video_and_audio() {
    for chunk in [video_chunk(0, 90), audio_chunk(7, 40)] {
        let bytes = chunk.to_bytes();
        assert_eq!(TrackChunk::from_bytes(&bytes).unwrap(), chunk);
        // Deterministic: the same chunk is the same file.
        assert_eq!(chunk.to_bytes(), bytes);
    }
}

#[test]
fn layout_is_magic_length_json_then_payload() {
    let chunk = video_chunk(0, 30);
    let bytes = chunk.to_bytes();
    assert_eq!(&bytes[..8], b"VFTRACK1");
    let hlen = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[12..12 + hlen]).unwrap();
    assert_eq!(header["track"], "v360");
    assert_eq!(header["timescale"], 30_000);
    assert_eq!(header["codec"]["kind"], "avc");
    assert_eq!(header["codec"]["width"], 320);
    assert_eq!(header["samples"].as_array().unwrap().len(), 30);
    assert_eq!(header["samples"][2]["cts_offset"], -1001);
    assert!(
        header.get("payload").is_none(),
        "the payload is raw, after the header"
    );
    assert_eq!(&bytes[12 + hlen..], chunk.payload.as_slice());
}

#[test]
fn empty_chunk_round_trips() {
    let chunk = audio_chunk(0, 0);
    assert_eq!(TrackChunk::from_bytes(&chunk.to_bytes()).unwrap(), chunk);
}

#[test]
fn bad_magic() {
    let mut bytes = audio_chunk(0, 3).to_bytes();
    bytes[7] = b'2';
    assert_eq!(detail(&bytes), "missing VFTRACK1 magic");
    assert_eq!(detail(b""), "missing VFTRACK1 magic");
    assert_eq!(detail(b"VFTRACK1\0\0\0"), "missing VFTRACK1 magic");
}

#[test]
fn header_length_past_the_end() {
    let mut bytes = audio_chunk(0, 3).to_bytes();
    let len = bytes.len();
    bytes[8..12].copy_from_slice(&(len as u32).to_le_bytes());
    assert_eq!(detail(&bytes), format!("header length {len} past the end"));
    bytes[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        detail(&bytes),
        format!("header length {} past the end", u32::MAX)
    );
}

#[test]
fn header_that_is_not_the_json_we_wrote() {
    let mut bytes = b"VFTRACK1".to_vec();
    bytes.extend_from_slice(&2u32.to_le_bytes());
    bytes.extend_from_slice(b"{}");
    assert!(
        detail(&bytes).contains("missing field"),
        "{}",
        detail(&bytes)
    );
}

#[test]
fn payload_size_mismatch() {
    let chunk = audio_chunk(0, 3);
    let total: usize = chunk.samples.iter().map(|s| s.size as usize).sum();
    let mut short = chunk.to_bytes();
    short.pop();
    assert_eq!(
        detail(&short),
        format!(
            "sample sizes add up to {total} bytes but the payload has {}",
            total - 1
        )
    );
    let mut long = chunk.to_bytes();
    long.push(0);
    assert!(detail(&long).contains(&format!("the payload has {}", total + 1)));
    let err = TrackChunk::from_bytes(&long).unwrap_err().to_string();
    assert!(
        err.starts_with("encoded chunk file is not valid: "),
        "{err}"
    );
}
