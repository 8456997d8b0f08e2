//! CMAF init segment: ftyp + moov (one track, empty sample tables, mvex/trex).

use crate::boxes::{BoxWriter, MATRIX};
use crate::Codec;

pub(crate) const TRACK_ID: u32 = 1;

/// The init segment (`init.mp4`) of a single-track rendition. `reorder_delay` (ticks,
/// `TrackChunk::reorder_delay`) is the delay the media segments' composition offsets
/// carry; an edit list takes it back so that the first frame is presented at 0.
pub fn init_segment(codec: &Codec, timescale: u32, reorder_delay: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = BoxWriter::new(&mut out);
    w.plain(b"ftyp", |w| {
        w.bytes(b"cmfc");
        w.u32(0);
        for brand in [b"cmfc", b"iso6", b"isom", b"mp41", b"dash"] {
            w.bytes(brand);
        }
    });
    w.plain(b"moov", |w| {
        w.full(b"mvhd", 0, 0, |w| {
            w.u32(0); // creation time: fixed, for byte-identical output
            w.u32(0);
            w.u32(1000);
            w.u32(0); // duration unknown: fragmented
            w.u32(0x0001_0000); // rate 1.0
            w.u16(0x0100); // volume 1.0
            w.zeros(10);
            for m in MATRIX {
                w.u32(m);
            }
            w.zeros(24);
            w.u32(TRACK_ID + 1);
        });
        w.plain(b"trak", |w| {
            let (width, height, is_video) = match codec {
                Codec::Avc { width, height, .. } => (*width, *height, true),
                Codec::Aac { .. } => (0, 0, false),
            };
            w.full(b"tkhd", 0, 0x3, |w| {
                w.u32(0);
                w.u32(0);
                w.u32(TRACK_ID);
                w.u32(0);
                w.u32(0); // duration
                w.zeros(8);
                w.u16(0); // layer
                w.u16(0); // alternate group
                w.u16(if is_video { 0 } else { 0x0100 });
                w.u16(0);
                for m in MATRIX {
                    w.u32(m);
                }
                w.u32(width << 16);
                w.u32(height << 16);
            });
            if reorder_delay > 0 {
                edit_list(w, reorder_delay);
            }
            w.plain(b"mdia", |w| {
                w.full(b"mdhd", 0, 0, |w| {
                    w.u32(0);
                    w.u32(0);
                    w.u32(timescale);
                    w.u32(0);
                    // language "und", packed ISO-639-2/T
                    w.u16(
                        ((b'u' - 0x60) as u16) << 10
                            | ((b'n' - 0x60) as u16) << 5
                            | (b'd' - 0x60) as u16,
                    );
                    w.u16(0);
                });
                w.full(b"hdlr", 0, 0, |w| {
                    w.u32(0);
                    w.bytes(if is_video { b"vide" } else { b"soun" });
                    w.zeros(12);
                    w.bytes(if is_video {
                        b"VideoHandler\0"
                    } else {
                        b"SoundHandler\0"
                    });
                });
                w.plain(b"minf", |w| {
                    if is_video {
                        w.full(b"vmhd", 0, 1, |w| w.zeros(8));
                    } else {
                        w.full(b"smhd", 0, 0, |w| w.zeros(4));
                    }
                    w.plain(b"dinf", |w| {
                        w.full(b"dref", 0, 0, |w| {
                            w.u32(1);
                            w.full(b"url ", 0, 1, |_| {});
                        });
                    });
                    w.plain(b"stbl", |w| {
                        w.full(b"stsd", 0, 0, |w| {
                            w.u32(1);
                            sample_entry(w, codec);
                        });
                        w.full(b"stts", 0, 0, |w| w.u32(0));
                        w.full(b"stsc", 0, 0, |w| w.u32(0));
                        w.full(b"stsz", 0, 0, |w| {
                            w.u32(0);
                            w.u32(0);
                        });
                        w.full(b"stco", 0, 0, |w| w.u32(0));
                    });
                });
            });
        });
        w.plain(b"mvex", |w| {
            w.full(b"trex", 0, 0, |w| {
                w.u32(TRACK_ID);
                w.u32(1); // sample description index
                w.u32(0);
                w.u32(0);
                w.u32(0);
            });
        });
    });
    out
}

/// One edit that starts the presentation `reorder_delay` ticks into the media (ISO/IEC
/// 14496-12 8.6.6; CMAF's case of a video track with positive composition offsets).
/// Its duration is 0 like the other durations of a fragmented movie's header: unknown
/// here, the edit runs to the end of the media. Chromium's MSE and FFmpeg both apply
/// the media time; hls.js, dash.js and Shaka time segments by their tfdt, which the
/// edit does not move.
fn edit_list(w: &mut BoxWriter, reorder_delay: u32) {
    w.plain(b"edts", |w| match i32::try_from(reorder_delay) {
        Ok(media_time) => w.full(b"elst", 0, 0, |w| {
            w.u32(1);
            w.u32(0); // segment duration
            w.i32(media_time);
            w.u32(0x0001_0000); // media rate 1.0
        }),
        Err(_) => w.full(b"elst", 1, 0, |w| {
            w.u32(1);
            w.u64(0);
            w.u64(reorder_delay as u64);
            w.u32(0x0001_0000);
        }),
    });
}

fn sample_entry(w: &mut BoxWriter, codec: &Codec) {
    match codec {
        Codec::Avc {
            avcc,
            width,
            height,
            colour,
        } => w.plain(b"avc1", |w| {
            w.zeros(6);
            w.u16(1); // data reference index
            w.zeros(16);
            w.u16(*width as u16);
            w.u16(*height as u16);
            w.u32(0x0048_0000); // 72 dpi
            w.u32(0x0048_0000);
            w.u32(0);
            w.u16(1); // frame count
            w.zeros(32); // compressor name
            w.u16(0x0018); // depth
            w.u16(0xffff); // pre-defined -1
            w.plain(b"avcC", |w| w.bytes(avcc));
            w.plain(b"pasp", |w| {
                w.u32(1);
                w.u32(1);
            });
            // After pasp, where FFmpeg's muxer writes it too.
            if let Some(c) = colour {
                w.plain(b"colr", |w| {
                    w.bytes(b"nclx");
                    w.u16(c.primaries.into());
                    w.u16(c.transfer.into());
                    w.u16(c.matrix.into());
                    w.u8(if c.full_range { 0x80 } else { 0 });
                });
            }
        }),
        Codec::Aac {
            asc,
            channels,
            sample_rate,
        } => w.plain(b"mp4a", |w| {
            w.zeros(6);
            w.u16(1);
            w.zeros(8);
            w.u16(*channels);
            w.u16(16);
            w.u16(0);
            w.u16(0);
            w.u32(sample_rate << 16);
            w.full(b"esds", 0, 0, |w| {
                // ES_Descriptor > DecoderConfigDescriptor > DecoderSpecificInfo, SLConfig.
                let dsi_len = asc.len();
                let dcd_len = 13 + 2 + dsi_len;
                let es_len = 3 + 2 + dcd_len + 3;
                w.u8(0x03);
                w.u8(es_len as u8);
                w.u16(0); // ES_ID
                w.u8(0); // flags
                w.u8(0x04);
                w.u8(dcd_len as u8);
                w.u8(0x40); // MPEG-4 audio
                w.u8(0x15); // audio stream, reserved bit
                w.u8(0);
                w.u16(0); // buffer size
                w.u32(0); // max bitrate (unknown before encoding ends)
                w.u32(0); // average bitrate
                w.u8(0x05);
                w.u8(dsi_len as u8);
                w.bytes(asc);
                w.u8(0x06);
                w.u8(1);
                w.u8(0x02);
            });
        }),
    }
}
