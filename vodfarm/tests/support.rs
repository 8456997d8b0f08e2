//! Helpers: fixture masters on disk, running the binary, ffprobe, a minimal fMP4 reader.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

/// Fixture masters live beside the build, so later runs reuse them.
pub fn fixture_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Generate a fixture once per process (tests run in parallel threads).
pub fn fixture(name: &str) -> (fixtures::Master, PathBuf) {
    let m = fixtures::masters()
        .into_iter()
        .find(|m| m.name == name)
        .expect("known fixture");
    let p = write_fixture(&m);
    (m, p)
}

/// Write any fixture master once, one writer at a time.
pub fn write_fixture(m: &fixtures::Master) -> PathBuf {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    let _g = LOCK.get_or_init(|| Mutex::new(())).lock().unwrap();
    m.write(&fixture_dir()).expect("fixture renders")
}

pub fn vodfarm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vodfarm"))
        .args(args)
        .env("VODFARM_LOG", "error")
        .output()
        .expect("vodfarm runs")
}

pub fn run_title(master: &Path, title: &str, store: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        master.to_str().unwrap(),
        "--title",
        title,
        "--store",
        store.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    vodfarm(&args)
}

/// Decoded video frames (or audio frames) of the first stream of `input`, per ffprobe.
pub fn ffprobe_count(input: &str, stream: &str) -> u64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            stream,
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(input)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe {input}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .and_then(|l| l.trim().trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "ffprobe {input}: no frame count in {:?}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
}

/// Decode everything with FFmpeg and return stderr (empty when clean).
pub fn ffmpeg_decode_errors(input: &str) -> String {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i", input, "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg {input}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One track fragment as read from the boxes.
#[derive(Debug, Clone)]
pub struct Fragment {
    pub tfdt: u64,
    /// (duration, size, sync, composition offset)
    pub samples: Vec<(u32, u32, bool, i32)>,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn children(b: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 8 <= b.len() {
        let size = be32(b, i) as usize;
        assert!(
            size >= 8 && i + size <= b.len(),
            "box size {size} at {i} overruns {}",
            b.len()
        );
        out.push((b[i + 4..i + 8].try_into().unwrap(), &b[i + 8..i + size]));
        i += size;
    }
    out
}

/// Fragments of a CMAF media segment (styp, then moof+mdat pairs).
pub fn fragments(segment: &[u8]) -> Vec<Fragment> {
    let mut out = Vec::new();
    for (t, body) in children(segment) {
        if &t != b"moof" {
            continue;
        }
        for (t, traf) in children(body) {
            if &t != b"traf" {
                continue;
            }
            let mut f = Fragment {
                tfdt: 0,
                samples: vec![],
            };
            for (t, b) in children(traf) {
                match &t {
                    b"tfdt" => {
                        f.tfdt = if b[0] == 1 {
                            u64::from_be_bytes(b[4..12].try_into().unwrap())
                        } else {
                            be32(b, 4) as u64
                        }
                    }
                    b"trun" => {
                        let flags = be32(b, 0) & 0xff_ffff;
                        assert_eq!(flags, 0xf01, "trun flags");
                        let n = be32(b, 4) as usize;
                        let mut at = 12;
                        for _ in 0..n {
                            let sflags = be32(b, at + 8);
                            f.samples.push((
                                be32(b, at),
                                be32(b, at + 4),
                                sflags & 0x0001_0000 == 0,
                                be32(b, at + 12) as i32,
                            ));
                            at += 16;
                        }
                    }
                    _ => {}
                }
            }
            out.push(f);
        }
    }
    out
}

/// The media time of an init segment's one edit (`moov/trak/edts/elst`), 0 without
/// one: the composition time that is presented at 0.
pub fn edit_media_time(init: &[u8]) -> i64 {
    let find = |b: &[u8], kind: &[u8; 4]| {
        children(b)
            .into_iter()
            .find(|(t, _)| t == kind)
            .map(|(_, b)| b.to_vec())
    };
    let trak = find(init, b"moov")
        .and_then(|m| find(&m, b"trak"))
        .expect("moov/trak");
    let Some(elst) = find(&trak, b"edts").and_then(|e| find(&e, b"elst")) else {
        return 0;
    };
    assert_eq!(be32(&elst, 4), 1, "one edit");
    if elst[0] == 1 {
        i64::from_be_bytes(elst[16..24].try_into().unwrap())
    } else {
        be32(&elst, 12) as i32 as i64
    }
}

/// `players/`, where the real-player scripts run; its node_modules and Debian's
/// Chromium must be there: without them the test fails, it never skips.
pub fn players_dir() -> PathBuf {
    let players = Path::new(env!("CARGO_MANIFEST_DIR")).join("../players");
    assert!(
        players.join("node_modules/playwright-core").is_dir(),
        "players/node_modules missing: run `npm ci` in players/ (scripts/test.sh does)"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Debian chromium missing: apt-get install chromium"
    );
    players
}

/// Run a players/ script (`node ARGS…` in players/, see [`players_dir`]) and return its
/// report, one JSON value per line; the report is printed, and a failing script fails
/// the test with `what`, the report and its stderr.
pub fn play<S: AsRef<std::ffi::OsStr>>(args: &[S], what: &str) -> Vec<serde_json::Value> {
    let out = Command::new("node")
        .current_dir(players_dir())
        .args(args)
        .output()
        .expect("node runs");
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}");
    assert!(
        out.status.success(),
        "{what}:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    report
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The command's stdout; its stderr in the panic message if it failed.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Every file under `dir`, relative path → bytes.
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

/// Make a master with the FFmpeg CLI: `args` between the test pattern input and `out`.
pub fn ffmpeg_master(out: &std::path::Path, size: &str, seconds: u32, args: &[&str]) {
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=s={size}:r=25:d={seconds}"))
        .args(args)
        .arg(out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg made {}", out.display());
}
