//! RFC 6381 codec strings: `avc1.PPCCLL` from the avcC record; `mp4a.40.2` (AAC-LC)
//! carried through to both manifests as given.

use manifests::{avc_codec_string, master_playlist, mpd, CodecError};

use crate::support::*;

/// An avcC record header with one empty SPS and no PPS: enough for the codec string.
fn avcc(profile: u8, constraints: u8, level: u8) -> Vec<u8> {
    vec![1, profile, constraints, level, 0xff, 0xe1, 0, 0, 0]
}

#[test]
fn profile_constraints_and_level_in_upper_case_hex() {
    for (rec, s) in [
        (avcc(0x42, 0xc0, 0x1e), "avc1.42C01E"), // Constrained Baseline 3.0
        (avcc(0x4d, 0x40, 0x1f), "avc1.4D401F"), // Main 3.1
        (avcc(0x64, 0x00, 0x28), "avc1.640028"), // High 4.0
        (avcc(0x64, 0x00, 0x0d), "avc1.64000D"), // High 1.3 (the packager's fixture)
        (avcc(0x6e, 0x00, 0x33), "avc1.6E0033"), // High 10, 5.1
    ] {
        assert_eq!(avc_codec_string(&rec).unwrap(), s);
    }
}

#[test]
fn a_real_record_with_parameter_sets() {
    // High 3.1 with a 1280x720 SPS (26 bytes) and a PPS (6 bytes): only the header
    // that copies the SPS's profile, constraints and level is read.
    let rec = [
        0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x1a, 0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40,
        0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0,
        0xf1, 0x83, 0x19, 0x60, 0x01, 0x00, 0x06, 0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0,
    ];
    assert_eq!(avc_codec_string(&rec).unwrap(), "avc1.64001F");
}

#[test]
fn invalid_records_are_errors_naming_length_and_version() {
    assert_eq!(
        avc_codec_string(&[]),
        Err(CodecError { len: 0, version: 0 })
    );
    assert_eq!(
        avc_codec_string(&[1, 0x64, 0, 0x1f, 0xff, 0xe1]),
        Err(CodecError { len: 6, version: 1 })
    );
    let mut rec = avcc(0x64, 0, 0x1f);
    rec[0] = 2;
    let e = avc_codec_string(&rec).unwrap_err();
    assert_eq!(e, CodecError { len: 9, version: 2 });
    assert_eq!(
        e.to_string(),
        "avcC record is not valid (9 bytes, version 2)"
    );
}

#[test]
fn aac_lc_string_reaches_both_manifests() {
    let p = presentation();
    assert!(master_playlist(&p).contains("CODECS=\"avc1.64001F,mp4a.40.2\""));
    assert!(mpd(&p).contains("codecs=\"mp4a.40.2\""));
}
