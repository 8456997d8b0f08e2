//! Hardened open of untrusted input.
//!
//! Crafted uploads have made FFmpeg read local files into its output (an HLS playlist
//! renamed `.mp4`, a concat script). We therefore only let the `file` protocol be
//! used, restrict probing to an allow-list of demuxers, and check the demuxer that was
//! picked against the same list.

use std::path::Path;

use ffmpeg_next::{format, Dictionary};

use crate::MediaError;

mod libc_einval {
    pub const EINVAL: i32 = 22;
}

/// Demuxers a master (or one of our own chunk files) may be read with. No playlists
/// (hls, dash), no concat, no image sequences, nothing networked.
pub const ALLOWED_DEMUXERS: &[&str] = &[
    "mov,mp4,m4a,3gp,3g2,mj2",
    "matroska,webm",
    "mxf",
    "mpegts",
    "yuv4mpegpipe",
    "nut",
];

fn allowed_list() -> String {
    ALLOWED_DEMUXERS.join(",")
}

/// Open `path` for demuxing under the rules above. Errors name the file and the problem.
pub fn open_untrusted(path: &Path) -> Result<format::context::Input, MediaError> {
    crate::init();
    let meta = std::fs::metadata(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => MediaError::NotFound { path: path.into() },
        _ => MediaError::Io {
            path: path.into(),
            source,
        },
    })?;
    if !meta.is_file() {
        return Err(MediaError::NotAFile { path: path.into() });
    }
    if meta.len() == 0 {
        return Err(MediaError::Empty { path: path.into() });
    }
    let mut opts = Dictionary::new();
    opts.set("protocol_whitelist", "file");
    opts.set("format_whitelist", &allowed_list());
    // mov: never follow data references to other files.
    opts.set("enable_drefs", "0");
    // mpegts/mov may otherwise probe for a long time on garbage.
    opts.set("probesize", "20000000");
    // A "file:" prefix stops FFmpeg reading a ':' in the name as a protocol.
    let url = format!("file:{}", path.display());
    let input = format::input_with_dictionary(&url, opts).map_err(|e| match e {
        // EINVAL: the format whitelist refused what probing found (a playlist, a script).
        ffmpeg_next::Error::InvalidData
        | ffmpeg_next::Error::DemuxerNotFound
        | ffmpeg_next::Error::Other {
            errno: libc_einval::EINVAL,
        } => MediaError::Unrecognised {
            path: path.into(),
            accepted: "mp4/mov, mkv/webm, mxf, mpeg-ts, y4m".into(),
        },
        other => MediaError::Corrupt {
            path: path.into(),
            detail: other.to_string(),
        },
    })?;
    let name = input.format().name().to_string();
    if !ALLOWED_DEMUXERS.contains(&name.as_str()) {
        return Err(MediaError::FormatRefused {
            path: path.into(),
            format: name,
            accepted: allowed_list(),
        });
    }
    Ok(input)
}
