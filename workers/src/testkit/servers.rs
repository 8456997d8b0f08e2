//! Real S3 and SQS servers on 127.0.0.1 for the tests: moto (S3 and SQS on one port)
//! and s3s-fs (S3 over a folder, checks signatures). scripts/test.sh installs both; a
//! server that cannot start fails the test, it never skips.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The access key id the test servers and the SDK share.
pub const ACCESS_KEY: &str = "vodfarm-test";
/// The secret key the test servers and the SDK share.
pub const SECRET_KEY: &str = "vodfarm-test-secret";

/// The SDK's credentials and region for every backend this test process opens.
pub fn aws_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::remove_var("AWS_PROFILE");
    });
}

/// A server process, killed when dropped.
pub struct Server {
    /// The server's process.
    pub child: Child,
    /// Its endpoint, `http://127.0.0.1:<port>`.
    pub url: String,
    /// The folder it stores into (s3s-fs), removed when dropped.
    pub dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Path of `bin` on PATH or in ~/.cargo/bin; panics with the `install` hint when missing.
pub fn find(bin: &str, install: &str) -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_default();
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(bin)).collect())
        .unwrap_or_default();
    candidates.push(Path::new(&home).join(".cargo/bin").join(bin));
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{bin} is not installed: {install} (scripts/test.sh does)"))
}

/// Wait until `child` listens on `port`; panics if it exits or is not up in 30 s.
pub fn wait_for(port: u16, child: &mut Child, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{name} exited at start-up: {st}");
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `python3 -m moto.server -H 127.0.0.1 -p PORT` (moto_server): S3 and SQS. Run as a
/// module so that it does not depend on where pip put the script.
pub fn moto() -> Server {
    aws_env();
    let ok = Command::new("python3")
        .args(["-c", "import moto.server"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "moto is not installed: pip install 'moto[server]==5.1.22' (scripts/test.sh does)"
    );
    let port = free_port();
    let mut child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    wait_for(port, &mut child, "moto_server");
    Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
        dir: None,
    }
}

/// `s3s-fs --host 127.0.0.1 --port PORT --access-key K --secret-key S DIR`.
pub fn s3s_fs() -> Server {
    aws_env();
    let bin = find("s3s-fs", "cargo install s3s-fs@0.14.1 --features binary");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("s3s-fs starts");
    wait_for(port, &mut child, "s3s-fs");
    Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
        dir: Some(dir),
    }
}

/// A vodfarm config file for S3 + SQS on `url` (moto), with per-prefix buckets.
pub fn moto_config(url: &str, prefix: &str, visibility: u64) -> String {
    format!(
        r#"[store]
backend = "s3"
bucket = "{prefix}work"
endpoint = "{url}"
region = "us-east-1"
[store.buckets]
ingest = "{prefix}ingest"
origin = "{prefix}origin"
control = "{prefix}control"

[queue]
backend = "sqs"
prefix = "{prefix}"
endpoint = "{url}"
region = "us-east-1"

[worker]
visibility_seconds = {visibility}
wait_seconds = 1
"#
    )
}
