//! The `vodfarm` binary as a server (`oca serve`, `steer --listen`); the S3 and SQS
//! servers (moto, s3s-fs) come from `workers::testkit::servers`.

use std::process::{Command, Stdio};

pub use workers::testkit::servers::*;

/// A `vodfarm` server command (`oca serve`, `steer --listen`) on port 0: started, its
/// URL read from the "... at URL" line it prints once bound.
pub fn vodfarm_server(args: &[&str]) -> Server {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_vodfarm"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("vodfarm starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .rsplit_once(" at ")
        .map(|(_, u)| u.to_string())
        .unwrap_or_else(|| panic!("vodfarm {args:?} did not start: {line:?}"));
    Server {
        child,
        url,
        dir: None,
    }
}
