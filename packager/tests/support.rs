//! Hand-built inputs (an H.264 parameter set pair for 320x180, an AAC-LC config, sample
//! tables with B-frames) and two independent readers of the output: mp4-atom (strict)
//! for the box tree and a tiny raw walker for exact bytes and box versions.

use mp4_atom::{Any, Decode};
use packager::{Codec, Sample, TrackChunk};

/// Writes H.264 RBSP bits: fixed-width fields and Exp-Golomb codes.
#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    acc: u8,
    used: u8,
}

impl Bits {
    fn bit(&mut self, b: bool) {
        self.acc = (self.acc << 1) | b as u8;
        self.used += 1;
        if self.used == 8 {
            self.bytes.push(self.acc);
            (self.acc, self.used) = (0, 0);
        }
    }
    fn u(&mut self, n: u32, v: u32) {
        for i in (0..n).rev() {
            self.bit(v >> i & 1 == 1);
        }
    }
    fn ue(&mut self, v: u32) {
        let x = v + 1;
        let len = 32 - x.leading_zeros();
        self.u(len - 1, 0);
        self.u(len, x);
    }
    fn se(&mut self, v: i32) {
        self.ue(if v > 0 {
            2 * v as u32 - 1
        } else {
            (-2 * v) as u32
        });
    }
    /// rbsp_trailing_bits, then emulation prevention (00 00 0x -> 00 00 03 0x).
    fn nal(mut self, header: u8) -> Vec<u8> {
        self.bit(true);
        while self.used != 0 {
            self.bit(false);
        }
        let mut out = vec![header];
        let mut zeros = 0;
        for b in self.bytes {
            if zeros >= 2 && b <= 3 {
                out.push(3);
                zeros = 0;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            out.push(b);
        }
        out
    }
}

pub const WIDTH: u32 = 320;
pub const HEIGHT: u32 = 180;
/// High profile (100), no constraint flags, level 1.3 (320x180 at 30 fps is 7,200
/// macroblocks/s: over level 1.2's 6,000).
pub const PROFILE: u8 = 100;
pub const LEVEL: u8 = 13;

/// An SPS for 320x180 4:2:0 8-bit progressive: 20x12 macroblocks cropped by 12 rows.
pub fn sps() -> Vec<u8> {
    let mut b = Bits::default();
    b.u(8, PROFILE as u32);
    b.u(8, 0); // constraint_set flags + reserved
    b.u(8, LEVEL as u32);
    b.ue(0); // seq_parameter_set_id
    b.ue(1); // chroma_format_idc 4:2:0 (High profile fields)
    b.ue(0); // bit_depth_luma_minus8
    b.ue(0); // bit_depth_chroma_minus8
    b.bit(false); // qpprime_y_zero_transform_bypass_flag
    b.bit(false); // seq_scaling_matrix_present_flag
    b.ue(0); // log2_max_frame_num_minus4
    b.ue(0); // pic_order_cnt_type
    b.ue(2); // log2_max_pic_order_cnt_lsb_minus4
    b.ue(3); // max_num_ref_frames
    b.bit(false); // gaps_in_frame_num_value_allowed_flag
    b.ue(WIDTH / 16 - 1); // pic_width_in_mbs_minus1
    b.ue(HEIGHT.div_ceil(16) - 1); // pic_height_in_map_units_minus1
    b.bit(true); // frame_mbs_only_flag
    b.bit(true); // direct_8x8_inference_flag
    b.bit(true); // frame_cropping_flag
    b.ue(0);
    b.ue(0);
    b.ue(0);
    b.ue((HEIGHT.div_ceil(16) * 16 - HEIGHT) / 2); // bottom, in 2-row units
    b.bit(false); // vui_parameters_present_flag
    b.nal(0x67)
}

/// A PPS as x264 writes it for High profile (CABAC, 8x8 transform).
pub fn pps() -> Vec<u8> {
    let mut b = Bits::default();
    b.ue(0); // pic_parameter_set_id
    b.ue(0); // seq_parameter_set_id
    b.bit(true); // entropy_coding_mode_flag (CABAC)
    b.bit(false); // bottom_field_pic_order_in_frame_present_flag
    b.ue(0); // num_slice_groups_minus1
    b.ue(2); // num_ref_idx_l0_default_active_minus1
    b.ue(0); // num_ref_idx_l1_default_active_minus1
    b.bit(true); // weighted_pred_flag
    b.u(2, 2); // weighted_bipred_idc
    b.se(0); // pic_init_qp_minus26
    b.se(0); // pic_init_qs_minus26
    b.se(-2); // chroma_qp_index_offset
    b.bit(true); // deblocking_filter_control_present_flag
    b.bit(false); // constrained_intra_pred_flag
    b.bit(false); // redundant_pic_cnt_present_flag
    b.bit(true); // transform_8x8_mode_flag
    b.bit(false); // pic_scaling_matrix_present_flag
    b.se(-2); // second_chroma_qp_index_offset
    b.nal(0x68)
}

/// AVCDecoderConfigurationRecord with the High-profile extension fields.
pub fn avcc() -> Vec<u8> {
    let (sps, pps) = (sps(), pps());
    let mut r = vec![1, sps[1], sps[2], sps[3], 0xff, 0xe1];
    r.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    r.extend_from_slice(&sps);
    r.push(1);
    r.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    r.extend_from_slice(&pps);
    // chroma_format 1, 8-bit luma and chroma, no SPS extensions.
    r.extend_from_slice(&[0xfd, 0xf8, 0xf8, 0]);
    r
}

pub fn avc() -> Codec {
    Codec::Avc {
        avcc: avcc(),
        width: WIDTH,
        height: HEIGHT,
        colour: Some(packager::Colr {
            primaries: 1,
            transfer: 1,
            matrix: 1,
            full_range: false,
        }),
    }
}

/// AudioSpecificConfig: AAC-LC (2), 48 kHz (index 3), stereo (2).
pub const ASC: [u8; 2] = [0x11, 0x90];

pub fn aac() -> Codec {
    Codec::Aac {
        asc: ASC.to_vec(),
        channels: 2,
        sample_rate: 48_000,
    }
}

/// Video at 30000/1001: time scale 30000, 1001 ticks a frame.
pub const VIDEO_TIMESCALE: u32 = 30_000;
pub const FRAME: u32 = 1001;
pub const GOP: u64 = 30;

/// Presentation index (within its GOP) of the frame decoded `j`-th in that GOP:
/// I0, then P2 B1, P4 B3, ..., P28 B27, and a last P29 (closed GOPs of 30).
pub fn gop_pts_index(j: u64) -> u64 {
    match j {
        0 => 0,
        29 => 29,
        j if j % 2 == 1 => j + 1,
        j => j - 1,
    }
}

/// Payload of one sample: a 4-byte NAL length, the NAL header byte, then bytes that
/// differ from sample to sample (so a misplaced sample cannot go unnoticed).
pub fn payload(index: u64, size: u32, header: u8) -> Vec<u8> {
    assert!(size >= 6);
    let mut p = (size - 4).to_be_bytes().to_vec();
    p.push(header);
    p.extend((0..size - 5).map(|i| (index as u32 * 31 + i * 7) as u8));
    p
}

/// `frames` video frames from frame `first` (a multiple of `GOP`), with B-frames
/// (negative composition offsets, at most one frame: the reorder delay) and one IDR
/// each `GOP` frames.
pub fn video_chunk(first: u64, frames: u64) -> TrackChunk {
    assert_eq!(first % GOP, 0);
    let mut samples = Vec::new();
    let mut data = Vec::new();
    for n in first..first + frames {
        let j = n % GOP;
        let pts = (n - j + gop_pts_index(j)) * FRAME as u64;
        let dts = n * FRAME as u64;
        let sync = j == 0;
        let size = match (sync, gop_pts_index(j) > j) {
            (true, _) => 900 + n as u32,
            (false, true) => 200 + n as u32, // P
            (false, false) => 60 + n as u32, // B
        };
        data.extend(payload(n, size, if sync { 0x65 } else { 0x41 }));
        samples.push(Sample {
            dts,
            cts_offset: (pts as i64 - dts as i64) as i32,
            duration: FRAME,
            sync,
            size,
        });
    }
    TrackChunk {
        track: "v360".into(),
        codec: avc(),
        timescale: VIDEO_TIMESCALE,
        reorder_delay: FRAME,
        samples,
        payload: data,
    }
}

/// `frames` AAC frames of 1024 samples at 48 kHz from frame `first`.
pub fn audio_chunk(first: u64, frames: u64) -> TrackChunk {
    let mut samples = Vec::new();
    let mut data = Vec::new();
    for n in first..first + frames {
        let size = 180 + (n % 17) as u32;
        data.extend(payload(n, size, 0x21));
        samples.push(Sample {
            dts: n * 1024,
            cts_offset: 0,
            duration: 1024,
            sync: true,
            size,
        });
    }
    TrackChunk {
        track: "aac".into(),
        codec: aac(),
        timescale: 48_000,
        reorder_delay: 0,
        samples,
        payload: data,
    }
}

/// The payload bytes of sample `i`.
pub fn sample_bytes(chunk: &TrackChunk, i: usize) -> &[u8] {
    let off = chunk.offsets()[i];
    &chunk.payload[off..off + chunk.samples[i].size as usize]
}

/// Every top-level box with its offset, decoded strictly; the boxes must cover the
/// input exactly.
pub fn top_level(bytes: &[u8]) -> Vec<(usize, Any)> {
    let mut buf = bytes;
    let mut out = Vec::new();
    while !buf.is_empty() {
        let at = bytes.len() - buf.len();
        let atom = Any::decode(&mut buf).unwrap_or_else(|e| panic!("box at byte {at}: {e}"));
        out.push((at, atom));
    }
    out
}

/// Raw view of a box: its type, full bytes (header included) and body.
pub struct RawBox<'a> {
    pub kind: [u8; 4],
    pub bytes: &'a [u8],
}

impl<'a> RawBox<'a> {
    pub fn body(&self) -> &'a [u8] {
        &self.bytes[8..]
    }
    /// Version byte of a full box.
    pub fn version(&self) -> u8 {
        self.bytes[8]
    }
    /// 24-bit flags of a full box.
    pub fn flags(&self) -> u32 {
        u32::from_be_bytes(self.bytes[8..12].try_into().unwrap()) & 0x00ff_ffff
    }
}

/// Boxes laid back to back in `bytes` (32-bit sizes only; we never write others).
pub fn raw_boxes(bytes: &[u8]) -> Vec<RawBox<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        assert!(
            size >= 8 && at + size <= bytes.len(),
            "box at {at}: size {size}"
        );
        out.push(RawBox {
            kind: bytes[at + 4..at + 8].try_into().unwrap(),
            bytes: &bytes[at..at + size],
        });
        at += size;
    }
    out
}

/// The first box along `path` (children start right after the parent's header plus
/// `skip` bytes, for full boxes and sample entries).
pub fn raw_find<'a>(bytes: &'a [u8], path: &[(&[u8; 4], usize)]) -> RawBox<'a> {
    let mut level = bytes;
    let mut found = None;
    for (kind, skip) in path {
        let b = raw_boxes(level)
            .into_iter()
            .find(|b| &b.kind == *kind)
            .unwrap_or_else(|| panic!("no {} box", String::from_utf8_lossy(*kind)));
        level = &b.body()[*skip..];
        found = Some(b);
    }
    found.expect("a non-empty path")
}
