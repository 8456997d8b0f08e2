//! Init segments read back with mp4-atom (strict): brands, the one track's headers,
//! its sample entry and the fragment defaults.

use mp4_atom::{Any, Codec as Entry, ElstEntry, FixedPoint, FourCC, Ftyp, Moov, StszSamples};
use packager::init_segment;

use crate::support::*;

/// ftyp then moov, nothing else.
fn read(bytes: &[u8]) -> (Ftyp, Moov) {
    let boxes = top_level(bytes);
    assert_eq!(boxes.len(), 2, "{boxes:?}");
    let mut it = boxes.into_iter().map(|(_, b)| b);
    match (it.next(), it.next()) {
        (Some(Any::Ftyp(f)), Some(Any::Moov(m))) => (f, m),
        other => panic!("expected ftyp, moov: {other:?}"),
    }
}

fn check_common(bytes: &[u8], ftyp: &Ftyp, moov: &Moov, timescale: u32) {
    assert_eq!(ftyp.major_brand, FourCC::new(b"cmfc"));
    assert_eq!(ftyp.minor_version, 0);
    let brands: Vec<FourCC> = [b"cmfc", b"iso6", b"isom", b"mp41", b"dash"]
        .into_iter()
        .map(FourCC::new)
        .collect();
    assert_eq!(ftyp.compatible_brands, brands);

    assert_eq!(moov.mvhd.timescale, 1000);
    assert_eq!(moov.mvhd.duration, 0, "fragmented: no duration in mvhd");
    assert_eq!(moov.mvhd.next_track_id, 2);
    assert_eq!(moov.trak.len(), 1);
    let trak = &moov.trak[0];
    assert_eq!(trak.tkhd.track_id, 1);
    assert!(trak.tkhd.enabled && trak.tkhd.in_movie);
    assert_eq!(trak.mdia.mdhd.timescale, timescale);
    assert_eq!(trak.mdia.mdhd.duration, 0);
    assert_eq!(trak.mdia.mdhd.language, "und");

    // Empty sample tables: every sample lives in fragments.
    let stbl = &trak.mdia.minf.stbl;
    assert!(stbl.stts.entries.is_empty());
    assert!(stbl.stsc.entries.is_empty());
    // sample_size 0 and sample_count 0 (mp4-atom reads that as an empty size list).
    assert!(
        matches!(&stbl.stsz.samples, StszSamples::Different { sizes } if sizes.is_empty())
            || stbl.stsz.samples == StszSamples::Identical { count: 0, size: 0 },
        "{:?}",
        stbl.stsz.samples
    );
    let raw = raw_find(
        bytes,
        &[
            (b"moov", 0),
            (b"trak", 0),
            (b"mdia", 0),
            (b"minf", 0),
            (b"stbl", 0),
            (b"stsz", 0),
        ],
    );
    assert_eq!(
        raw.body(),
        [0u8; 12],
        "version/flags, sample_size, sample_count"
    );
    assert!(stbl.stco.as_ref().is_some_and(|c| c.entries.is_empty()));
    assert_eq!(trak.mdia.minf.dinf.dref.entries.len(), 1);

    let mvex = moov.mvex.as_ref().expect("mvex: the file is fragmented");
    assert_eq!(mvex.trex.len(), 1);
    let trex = &mvex.trex[0];
    assert_eq!(trex.track_id, 1);
    assert_eq!(trex.default_sample_description_index, 1);
    assert_eq!(
        (
            trex.default_sample_duration,
            trex.default_sample_size,
            trex.default_sample_flags
        ),
        (0, 0, 0),
        "every trun carries its own values"
    );
}

#[test]
fn video_init_segment() {
    let bytes = init_segment(&avc(), VIDEO_TIMESCALE, 0);
    let (ftyp, moov) = read(&bytes);
    check_common(&bytes, &ftyp, &moov, VIDEO_TIMESCALE);
    let trak = &moov.trak[0];
    assert_eq!(
        (
            trak.tkhd.width.integer(),
            trak.tkhd.height.integer(),
            trak.tkhd.volume.integer()
        ),
        (WIDTH as u16, HEIGHT as u16, 0)
    );
    assert_eq!(trak.mdia.hdlr.handler, FourCC::new(b"vide"));
    assert_eq!(trak.mdia.hdlr.name, "VideoHandler");
    assert!(trak.mdia.minf.vmhd.is_some() && trak.mdia.minf.smhd.is_none());

    let codecs = &trak.mdia.minf.stbl.stsd.codecs;
    assert_eq!(codecs.len(), 1);
    let Entry::Avc1(avc1) = &codecs[0] else {
        panic!("expected avc1: {:?}", codecs[0]);
    };
    assert_eq!(avc1.visual.data_reference_index, 1);
    assert_eq!(
        (avc1.visual.width, avc1.visual.height),
        (WIDTH as u16, HEIGHT as u16)
    );
    assert_eq!(avc1.visual.horizresolution.integer(), 72);
    assert_eq!(avc1.visual.depth, 0x18);
    let a = &avc1.avcc;
    assert_eq!(
        (
            a.configuration_version,
            a.avc_profile_indication,
            a.profile_compatibility,
            a.avc_level_indication,
            a.length_size
        ),
        (1, PROFILE, 0, LEVEL, 4)
    );
    assert_eq!(a.sequence_parameter_sets, vec![sps()]);
    assert_eq!(a.picture_parameter_sets, vec![pps()]);
    let ext = a.ext.as_ref().expect("High profile avcC extension");
    assert_eq!(
        (ext.chroma_format, ext.bit_depth_luma, ext.bit_depth_chroma),
        (1, 8, 8)
    );
    let pasp = avc1.pasp.as_ref().expect("pasp");
    assert_eq!((pasp.h_spacing, pasp.v_spacing), (1, 1));

    // The record is copied byte for byte.
    let raw = raw_find(
        &bytes,
        &[
            (b"moov", 0),
            (b"trak", 0),
            (b"mdia", 0),
            (b"minf", 0),
            (b"stbl", 0),
            (b"stsd", 8),
            (b"avc1", 78),
            (b"avcC", 0),
        ],
    );
    assert_eq!(raw.body(), avcc().as_slice());
}

#[test]
fn audio_init_segment() {
    let bytes = init_segment(&aac(), 48_000, 0);
    let (ftyp, moov) = read(&bytes);
    check_common(&bytes, &ftyp, &moov, 48_000);
    let trak = &moov.trak[0];
    assert_eq!(
        (
            trak.tkhd.width.integer(),
            trak.tkhd.height.integer(),
            trak.tkhd.volume.integer()
        ),
        (0, 0, 1)
    );
    assert_eq!(trak.mdia.hdlr.handler, FourCC::new(b"soun"));
    assert_eq!(trak.mdia.hdlr.name, "SoundHandler");
    assert!(trak.mdia.minf.smhd.is_some() && trak.mdia.minf.vmhd.is_none());

    let codecs = &trak.mdia.minf.stbl.stsd.codecs;
    assert_eq!(codecs.len(), 1);
    let Entry::Mp4a(mp4a) = &codecs[0] else {
        panic!("expected mp4a: {:?}", codecs[0]);
    };
    assert_eq!(mp4a.audio.data_reference_index, 1);
    assert_eq!(mp4a.audio.channel_count, 2);
    assert_eq!(mp4a.audio.sample_size, 16);
    assert_eq!(mp4a.audio.sample_rate.integer(), 48_000);
    let dc = &mp4a.esds.es_desc.dec_config;
    assert_eq!(dc.object_type_indication, 0x40, "MPEG-4 audio");
    assert_eq!(dc.stream_type, 5, "audio stream");
    assert_eq!(dc.up_stream, 0);
    let dsi = dc.dec_specific.as_ref().expect("DecoderSpecificInfo");
    assert_eq!(
        dsi.raw, ASC,
        "the AudioSpecificConfig is copied byte for byte"
    );
    assert_eq!(
        (dsi.profile, dsi.freq_index, dsi.chan_conf),
        (2, 3, 2),
        "AAC-LC, 48 kHz, stereo"
    );
}

#[test]
fn init_segments_are_byte_identical_across_runs() {
    assert_eq!(
        init_segment(&avc(), 30_000, 1001),
        init_segment(&avc(), 30_000, 1001)
    );
    assert_ne!(
        init_segment(&avc(), 30_000, 1001),
        init_segment(&avc(), 15_360, 1001)
    );
}

/// The one edit of a track whose presentation is delayed by `reorder_delay`.
fn edits(bytes: &[u8]) -> Option<Vec<ElstEntry>> {
    let (ftyp, moov) = read(bytes);
    check_common(bytes, &ftyp, &moov, VIDEO_TIMESCALE);
    let edts = moov.trak[0].edts.clone()?;
    Some(edts.elst.expect("edts holds an elst").entries)
}

#[test]
fn a_reorder_delay_is_taken_back_by_an_edit_list() {
    // No delay, no edit list: presentation starts at the first composition time.
    assert_eq!(edits(&init_segment(&avc(), VIDEO_TIMESCALE, 0)), None);
    // B-frames two frames deep at 30000/1001: one edit that starts presenting 2002
    // ticks into the media, at normal rate, for the whole (fragmented) track.
    for delay in [1, 2002, i32::MAX as u32, i32::MAX as u32 + 1, u32::MAX] {
        let bytes = init_segment(&avc(), VIDEO_TIMESCALE, delay);
        assert_eq!(
            edits(&bytes),
            Some(vec![ElstEntry {
                segment_duration: 0,
                media_time: Some(delay as u64),
                media_rate: FixedPoint::new(1, 0),
            }]),
            "delay {delay}"
        );
        // In the order ISO/IEC 14496-12 gives: tkhd, edts, mdia; version 0 while the
        // media time fits its signed 32 bits.
        let trak = raw_find(&bytes, &[(b"moov", 0), (b"trak", 0)]);
        let kinds: Vec<[u8; 4]> = raw_boxes(trak.body()).iter().map(|b| b.kind).collect();
        assert_eq!(kinds, [*b"tkhd", *b"edts", *b"mdia"]);
        let elst = raw_find(trak.body(), &[(b"edts", 0), (b"elst", 0)]);
        assert_eq!(
            elst.version(),
            u8::from(delay > i32::MAX as u32),
            "delay {delay}"
        );
    }
}

#[test]
fn hand_built_parameter_sets_are_what_they_claim() {
    // Guard the fixture itself: the codec string the manifests derive from it.
    let sps = sps();
    assert_eq!(&sps[..4], &[0x67, 100, 0, 13]);
    assert_eq!(pps()[0], 0x68);
    let rec = avcc();
    assert_eq!(&rec[..6], &[1, 100, 0, 13, 0xff, 0xe1]);
    assert_eq!(rec.len(), 6 + 2 + sps.len() + 1 + 2 + pps().len() + 4);
}
