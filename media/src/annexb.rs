//! libx264 (through FFmpeg) emits Annex B: NAL units behind start codes, SPS/PPS in the
//! global header. MP4 wants 4-byte length prefixes and an avcC record; FFmpeg's mp4
//! muxer does this conversion internally, and since we write our own boxes we do it here.

/// NAL units of an Annex B byte stream (start codes removed).
pub(crate) fn nal_units(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut start: Option<usize> = None;
    while i + 2 < data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            if let Some(s) = start {
                let mut end = i;
                // A 4-byte start code's leading zero belongs to it, not to the NAL.
                while end > s && data[end - 1] == 0 {
                    end -= 1;
                }
                out.push(&data[s..end]);
            }
            i += 3;
            start = Some(i);
        } else {
            i += 1;
        }
    }
    if let Some(s) = start {
        if s < data.len() {
            out.push(&data[s..]);
        }
    }
    out
}

/// The NAL units of one access unit as it comes from a demuxer: length-prefixed with
/// `length_size`-byte lengths (MP4, MKV: the avcC/hvcC record says), else Annex B.
/// Stops at the first length that overruns the data (untrusted input).
pub(crate) fn access_unit_nals(data: &[u8], length_size: Option<usize>) -> Vec<&[u8]> {
    let Some(n) = length_size.filter(|n| (1..=4).contains(n)) else {
        return nal_units(data);
    };
    let mut out = Vec::new();
    let mut at = 0;
    while at + n <= data.len() {
        let len = data[at..at + n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        at += n;
        let Some(nal) = data.get(at..at + len) else {
            break;
        };
        out.push(nal);
        at += len;
    }
    out
}

/// Annex B access unit to 4-byte length-prefixed NAL units. Parameter sets and access
/// unit delimiters are dropped: they live in the avcC record.
pub(crate) fn to_length_prefixed(data: &[u8]) -> Vec<u8> {
    if data.len() >= 4 && data[..3] != [0, 0, 1] && data[..4] != [0, 0, 0, 1] {
        return data.to_vec(); // already length-prefixed
    }
    let mut out = Vec::with_capacity(data.len() + 8);
    for nal in nal_units(data) {
        if nal.is_empty() || matches!(nal[0] & 0x1f, 7..=9) {
            continue;
        }
        out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
}

/// AVCDecoderConfigurationRecord from Annex B parameter sets (or the record itself).
pub(crate) fn avcc_from_extradata(extradata: &[u8]) -> Option<Vec<u8>> {
    if extradata.first() == Some(&1) {
        return Some(extradata.to_vec());
    }
    let nals = nal_units(extradata);
    let sps: Vec<&[u8]> = nals
        .iter()
        .copied()
        .filter(|n| !n.is_empty() && n[0] & 0x1f == 7)
        .collect();
    let pps: Vec<&[u8]> = nals
        .iter()
        .copied()
        .filter(|n| !n.is_empty() && n[0] & 0x1f == 8)
        .collect();
    let first = sps.first()?;
    if first.len() < 4 || pps.is_empty() {
        return None;
    }
    let mut out = vec![
        1,
        first[1],
        first[2],
        first[3],
        0xff,
        0xe0 | sps.len() as u8,
    ];
    for s in &sps {
        out.extend_from_slice(&(s.len() as u16).to_be_bytes());
        out.extend_from_slice(s);
    }
    out.push(pps.len() as u8);
    for p in &pps {
        out.extend_from_slice(&(p.len() as u16).to_be_bytes());
        out.extend_from_slice(p);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_parameter_sets_and_packets() {
        let extradata = [
            0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac, 0, 0, 1, 0x68, 0xeb, 0xe3,
        ];
        let avcc = avcc_from_extradata(&extradata).unwrap();
        assert_eq!(&avcc[..6], &[1, 0x64, 0x00, 0x1f, 0xff, 0xe1]);
        assert_eq!(&avcc[6..8], &[0, 5]);
        assert_eq!(&avcc[8..13], &[0x67, 0x64, 0x00, 0x1f, 0xac]);
        assert_eq!(&avcc[13..], &[1, 0, 3, 0x68, 0xeb, 0xe3]);
        let pkt = [
            0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 1, 2, 3, 0, 0, 1, 0x06, 5,
        ];
        assert_eq!(
            to_length_prefixed(&pkt),
            vec![0, 0, 0, 4, 0x65, 1, 2, 3, 0, 0, 0, 2, 0x06, 5]
        );
    }

    #[test]
    fn access_units_split_in_both_framings() {
        let annexb = [0, 0, 0, 1, 0x65, 1, 2, 0, 0, 1, 0x41, 3];
        assert_eq!(
            access_unit_nals(&annexb, None),
            vec![&[0x65, 1, 2][..], &[0x41, 3][..]]
        );
        let prefixed = [0, 0, 0, 3, 0x65, 1, 2, 0, 0, 0, 2, 0x41, 3];
        assert_eq!(
            access_unit_nals(&prefixed, Some(4)),
            vec![&[0x65, 1, 2][..], &[0x41, 3][..]]
        );
        // A length past the end stops the walk instead of reading beyond it.
        assert_eq!(
            access_unit_nals(&[0, 0, 0, 9, 0x65, 1], Some(4)),
            Vec::<&[u8]>::new()
        );
    }
}
