/// A codec string that could not be derived.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("avcC record is not valid ({len} bytes, version {version})")]
pub struct CodecError {
    pub len: usize,
    pub version: u8,
}

/// `avc1.PPCCLL` from the AVCDecoderConfigurationRecord, whose bytes 1..4 copy the
/// SPS's profile_idc, constraint flags and level_idc.
pub fn avc_codec_string(avcc: &[u8]) -> Result<String, CodecError> {
    if avcc.len() < 7 || avcc[0] != 1 {
        return Err(CodecError {
            len: avcc.len(),
            version: avcc.first().copied().unwrap_or(0),
        });
    }
    Ok(format!(
        "avc1.{:02X}{:02X}{:02X}",
        avcc[1], avcc[2], avcc[3]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_profile_level_31() {
        assert_eq!(
            avc_codec_string(&[1, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0]).unwrap(),
            "avc1.64001F"
        );
        assert!(avc_codec_string(&[0, 1, 2]).is_err());
    }
}
