//! Chaos on the farm, on moto (S3 + SQS on 127.0.0.1), with `vodfarm worker` processes:
//!
//! - a faulty network: the workers reach moto through a fault-injecting HTTP proxy that
//!   answers about 5% of requests with a 500 or a 503 (S3- or SQS-shaped error bodies),
//!   resets the connection before forwarding, resets it after forwarding (the request
//!   took effect, its answer is lost), or stalls 2 s before forwarding;
//! - a kill loop: a random worker is SIGKILLed every 2–4 s and replaced, 8 times, at
//!   least once while a title is packaging.
//!
//! Every title publishes; every origin object is byte-identical to an embedded
//! `vodfarm run` of the same master and settings; each title has exactly one publish
//! record in the store (`control/publishes/<title>/`); no message is dead-lettered.
//!
//! The seed of each test's random choices is printed; `VODFARM_CHAOS_SEED=N` replays
//! the same draws (the interleaving of threads and processes still varies).

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vodfarm::config::{Backends, Config};
use workers::status::State;
use workers::{keys, TitleId};

use crate::farm::{events, moto_farm, sample_720p, start_worker, vodfarm_cmd, Worker};
use crate::servers;
use crate::support::*;

/// splitmix64: small, seeded, good enough to pick faults and victims.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `VODFARM_CHAOS_SEED` if set, else the clock.
fn seed(test: &str) -> u64 {
    let s = std::env::var("VODFARM_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("{test}: seed {s} (VODFARM_CHAOS_SEED={s} replays its draws)");
    s
}

// ---------------------------------------------------------------------------------
// The fault-injecting proxy.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// 500 without forwarding (S3 `InternalError`, SQS `InternalError`).
    Internal,
    /// 503 without forwarding (S3 `SlowDown`, SQS `ServiceUnavailable`).
    Unavailable,
    /// The request is read, then the connection is reset without an answer.
    Reset,
    /// The request is forwarded (it takes effect), then the connection is reset: the
    /// answer is lost, and the SDK's retry repeats a request that already happened.
    Lost,
    /// 2 s of silence, then forwarded.
    Stall,
}

const FAULTS: [(Fault, &str); 5] = [
    (Fault::Internal, "500"),
    (Fault::Unavailable, "503"),
    (Fault::Reset, "reset"),
    (Fault::Lost, "reset after forwarding"),
    (Fault::Stall, "stall 2 s"),
];
const STALL: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    s3: AtomicU64,
    sqs: AtomicU64,
    /// Request bodies sent with `Transfer-Encoding: chunked`.
    chunked: AtomicU64,
    /// Requests with `Expect: 100-continue`.
    expect: AtomicU64,
    faults: [AtomicU64; 5],
    upstream_errors: AtomicU64,
}

struct Shared {
    upstream: SocketAddr,
    rng: Mutex<Rng>,
    /// Faults per thousand requests.
    per_mille: u64,
    counts: Counts,
    stop: AtomicBool,
}

impl Shared {
    fn draw(&self) -> Option<Fault> {
        let mut rng = self.rng.lock().unwrap();
        (rng.below(1000) < self.per_mille).then(|| FAULTS[rng.below(5) as usize].0)
    }
}

/// An HTTP/1.1 proxy on 127.0.0.1 in front of `upstream`. Each client connection is
/// served by a thread that reads whole requests (keep-alive: one after another) and
/// forwards each on a fresh upstream connection with `Connection: close`; the answer is
/// read to its end, de-chunked, and relayed with a `Content-Length`, so the client's
/// connection stays usable for its next request.
struct Proxy {
    url: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    fn start(upstream_url: &str, seed: u64, per_mille: u64) -> Proxy {
        let upstream: SocketAddr = upstream_url
            .trim_start_matches("http://")
            .parse()
            .expect("upstream is http://IP:PORT");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream,
            rng: Mutex::new(Rng(seed)),
            per_mille,
            counts: Counts::default(),
            stop: AtomicBool::new(false),
        });
        let sh = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sh.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let sh = sh.clone();
                std::thread::spawn(move || {
                    // A client that goes away mid-request ends its connection: fine.
                    let _ = serve(conn, &sh);
                });
            }
        });
        Proxy {
            url: format!("http://{addr}"),
            addr,
            shared,
        }
    }

    fn counts(&self) -> &Counts {
        &self.shared.counts
    }

    fn faults(&self) -> Vec<(&'static str, u64)> {
        FAULTS
            .iter()
            .enumerate()
            .map(|(i, (_, name))| (*name, self.counts().faults[i].load(Ordering::SeqCst)))
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

struct Request {
    method: String,
    target: String,
    headers: Headers,
    /// Whether the request framed a body (Content-Length or chunked), even an empty one.
    framed: bool,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// SQS (JSON or query protocol) rather than S3: both live on moto's one port.
    fn is_sqs(&self) -> bool {
        self.header("x-amz-target")
            .is_some_and(|t| t.starts_with("AmazonSQS"))
            || self.is_sqs_query()
    }

    fn is_sqs_query(&self) -> bool {
        self.method == "POST" && self.target == "/" && self.body.starts_with(b"Action=")
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn is_chunked(headers: &[(String, String)]) -> bool {
    header(headers, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

/// Hop-by-hop headers, and the framing the proxy rewrites.
const HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "transfer-encoding",
    "content-length",
    "expect",
];

/// One CRLF-terminated line without its terminator; None at a clean end of input.
fn line(r: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    if r.read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    if !buf.ends_with(b"\n") {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// Header lines as (name, value), in order.
type Headers = Vec<(String, String)>;

/// A start line and its headers; None when the peer closed between messages.
fn read_head(r: &mut impl BufRead) -> io::Result<Option<(String, Headers)>> {
    let start = loop {
        match line(r)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut headers = Vec::new();
    loop {
        let l = line(r)?.ok_or(io::ErrorKind::UnexpectedEof)?;
        if l.is_empty() {
            return Ok(Some((start, headers)));
        }
        let (k, v) = l
            .split_once(':')
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, l.clone()))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
}

/// A chunked body, de-chunked (trailers dropped).
fn read_chunked(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let size_line = line(r)?.ok_or(io::ErrorKind::UnexpectedEof)?;
        let hex = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(hex, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, size_line.clone()))?;
        if size == 0 {
            while !line(r)?.ok_or(io::ErrorKind::UnexpectedEof)?.is_empty() {}
            return Ok(body);
        }
        let at = body.len();
        body.resize(at + size, 0);
        r.read_exact(&mut body[at..])?;
        line(r)?;
    }
}

fn content_length(headers: &[(String, String)]) -> io::Result<Option<usize>> {
    header(headers, "content-length")
        .map(|v| {
            v.parse()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, v.to_string()))
        })
        .transpose()
}

fn read_request(
    r: &mut impl BufRead,
    w: &mut impl Write,
    counts: &Counts,
) -> io::Result<Option<Request>> {
    let Some((start, headers)) = read_head(r)? else {
        return Ok(None);
    };
    let mut parts = start.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or("/").to_string();
    if header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        counts.expect.fetch_add(1, Ordering::SeqCst);
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let (framed, body) = if is_chunked(&headers) {
        counts.chunked.fetch_add(1, Ordering::SeqCst);
        (true, read_chunked(r)?)
    } else if let Some(n) = content_length(&headers)? {
        let mut body = vec![0; n];
        r.read_exact(&mut body)?;
        (true, body)
    } else {
        (false, Vec::new())
    };
    Ok(Some(Request {
        method,
        target,
        headers,
        framed,
        body,
    }))
}

/// Forward on a fresh connection, read the whole answer, return it ready to relay.
fn forward(req: &Request, upstream: SocketAddr) -> io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream)?;
    up.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (k, v) in &req.headers {
        if !HOP.iter().any(|h| k.eq_ignore_ascii_case(h)) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    if req.framed {
        head.push_str(&format!("Content-Length: {}\r\n", req.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes())?;
    up.write_all(&req.body)?;
    let mut raw = Vec::new();
    up.read_to_end(&mut raw)?;
    relay(&raw, req.method == "HEAD")
}

/// The upstream's answer (read to the close) as one keep-alive HTTP/1.1 response.
fn relay(raw: &[u8], head_only: bool) -> io::Result<Vec<u8>> {
    let mut r = raw;
    let (status, headers) = loop {
        let (status, headers) = read_head(&mut r)?.ok_or(io::ErrorKind::UnexpectedEof)?;
        // Interim answers (100 Continue) are not relayed: the client never asked.
        if !status.split(' ').nth(1).is_some_and(|c| c.starts_with('1')) {
            break (status, headers);
        }
    };
    let mut parts = status.splitn(3, ' ');
    let _version = parts.next();
    let code: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, status.clone()))?;
    let reason = parts.next().unwrap_or("");
    let no_body = head_only || code == 204 || code == 304;
    let body = if no_body {
        Vec::new()
    } else if is_chunked(&headers) {
        read_chunked(&mut r)?
    } else if let Some(n) = content_length(&headers)? {
        if r.len() < n {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        r[..n].to_vec()
    } else {
        r.to_vec()
    };
    let mut out = format!("HTTP/1.1 {code} {reason}\r\n");
    for (k, v) in &headers {
        // A HEAD answer keeps its Content-Length: the size of what a GET would return.
        let keep_length = head_only && k.eq_ignore_ascii_case("content-length");
        if keep_length || !HOP.iter().any(|h| k.eq_ignore_ascii_case(h)) {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    if !no_body {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(&body);
    Ok(out)
}

/// A 500 or 503 shaped like the service's own: S3's XML `<Error>`, SQS's JSON error
/// (the SDK's protocol) or its query-protocol XML.
fn error_response(req: &Request, code: u16, n: u64) -> Vec<u8> {
    let id = format!("chaos-{n}");
    let (content_type, extra, body) = if req.is_sqs() {
        let (name, reason) = if code == 503 {
            (
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
            )
        } else {
            ("InternalError", "There is an internal problem with SQS.")
        };
        if req.is_sqs_query() {
            (
                "text/xml",
                String::new(),
                format!("<?xml version=\"1.0\"?><ErrorResponse><Error><Type>Receiver</Type><Code>{name}</Code><Message>{reason}</Message><Detail/></Error><RequestId>{id}</RequestId></ErrorResponse>"),
            )
        } else {
            (
                "application/x-amz-json-1.0",
                format!("x-amzn-query-error: {name};Receiver\r\nx-amzn-RequestId: {id}\r\n"),
                format!("{{\"__type\":\"com.amazonaws.sqs#{name}\",\"message\":\"{reason}\"}}"),
            )
        }
    } else {
        let (name, reason) = if code == 503 {
            ("SlowDown", "Please reduce your request rate.")
        } else {
            (
                "InternalError",
                "We encountered an internal error. Please try again.",
            )
        };
        (
            "application/xml",
            format!("x-amz-request-id: {id}\r\n"),
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{name}</Code><Message>{reason}</Message><RequestId>{id}</RequestId></Error>"),
        )
    };
    let reason = if code == 503 {
        "Service Unavailable"
    } else {
        "Internal Server Error"
    };
    // An answer to HEAD has no body, whatever the error.
    let body = if req.method == "HEAD" {
        String::new()
    } else {
        body
    };
    let mut out = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    );
    out.push_str(&body);
    out.into_bytes()
}

/// Close with a TCP reset (SO_LINGER 0) rather than a polite FIN.
fn reset(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized linger struct.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    let _ = s.shutdown(std::net::Shutdown::Both);
}

/// One client connection: requests one after another until the client closes or a
/// fault ends the connection.
fn serve(client: TcpStream, sh: &Shared) -> io::Result<()> {
    client.set_nodelay(true)?;
    let mut r = BufReader::new(client.try_clone()?);
    let mut w = client;
    while let Some(req) = read_request(&mut r, &mut w, &sh.counts)? {
        let c = &sh.counts;
        let n = c.requests.fetch_add(1, Ordering::SeqCst) + 1;
        if req.is_sqs() { &c.sqs } else { &c.s3 }.fetch_add(1, Ordering::SeqCst);
        let fault = sh.draw();
        if let Some(f) = fault {
            let i = FAULTS.iter().position(|(k, _)| *k == f).unwrap();
            c.faults[i].fetch_add(1, Ordering::SeqCst);
        }
        match fault {
            Some(Fault::Internal) => {
                w.write_all(&error_response(&req, 500, n))?;
                continue;
            }
            Some(Fault::Unavailable) => {
                w.write_all(&error_response(&req, 503, n))?;
                continue;
            }
            Some(Fault::Reset) => {
                reset(&w);
                return Ok(());
            }
            Some(Fault::Stall) => std::thread::sleep(STALL),
            Some(Fault::Lost) | None => {}
        }
        let answer = match forward(&req, sh.upstream) {
            Ok(a) => a,
            Err(e) => {
                c.upstream_errors.fetch_add(1, Ordering::SeqCst);
                eprintln!("proxy: {} {}: upstream: {e}", req.method, req.target);
                reset(&w);
                return Ok(());
            }
        };
        if fault == Some(Fault::Lost) {
            reset(&w);
            return Ok(());
        }
        w.write_all(&answer)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// The farm around it.

/// The settings of farm.rs's chaos test: a fixed ladder, one 4 s segment per chunk.
///
/// Not 2 s segments: with `--segment-seconds 2` the 720p sample's 854x480 rung differs
/// from run to run even between two plain `vodfarm run`s, on machines with AVX-512
/// (libx264's AVX-512 code reads memory it never wrote: the bytes follow
/// `MALLOC_PERTURB_`, and are stable with x264's AVX-512 turned off). That is a bug of
/// the encode, not of the farm, and would fail the byte comparisons here.
const SETTINGS: [&str; 4] = ["--ladder", "benchmark", "--chunk-segments", "1"];

fn backends(config: &Path) -> Backends {
    Config::parse(&std::fs::read_to_string(config).unwrap())
        .unwrap()
        .open()
        .unwrap()
}

/// Titles and their masters.
type Titles = [(String, PathBuf)];

fn submit(config: &Path, title: &str, master: &Path) {
    let out = ok(vodfarm_cmd(config)
        .args(["submit", master.to_str().unwrap(), "--title", title])
        .args(SETTINGS)
        .output()
        .unwrap());
    assert_eq!(out.trim(), title);
}

fn states(b: &Backends, titles: &Titles) -> Vec<Option<State>> {
    titles
        .iter()
        .map(|(t, _)| {
            workers::status::read(b.store.as_ref(), &TitleId::parse(t).unwrap()).map(|s| s.state)
        })
        .collect()
}

/// Wait until every title is published; a failed title or the deadline fails the test.
fn wait_published(b: &Backends, titles: &Titles, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let s = states(b, titles);
        if s.iter().all(|s| *s == Some(State::Published)) {
            return;
        }
        assert!(!s.contains(&Some(State::Failed)), "a title failed: {s:?}");
        assert!(Instant::now() < deadline, "not published in time: {s:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Wait until no queue holds a message, visible or in flight (the place jobs, late
/// redeliveries of killed workers' messages and duplicates have all been handled).
fn wait_drained(b: &Backends, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let left: Vec<_> = workers::runner::QUEUES
            .iter()
            .map(|q| {
                let n = b.queue.depth(q).unwrap() + b.queue.in_flight(q).unwrap();
                (*q, n)
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "queues did not drain: {left:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The outcome every chaos test must leave: the bytes of an embedded run of the same
/// master and settings (one run per master: the bytes do not depend on the title id),
/// one publish record per title, nothing dead-lettered.
fn assert_exactly_once(b: &Backends, titles: &Titles, dir: &Path) {
    let embedded = dir.join("embedded");
    let mut runs: BTreeMap<&Path, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    for (t, m) in titles {
        let want = runs.entry(m).or_insert_with(|| {
            let out = run_title(m, t, &embedded, &SETTINGS);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            tree(&embedded.join("origin").join(t))
        });
        let prefix = format!("origin/{t}/");
        let got = b.store.list(&prefix).unwrap();
        assert_eq!(
            got.iter().map(|k| &k[prefix.len()..]).collect::<Vec<_>>(),
            want.keys().map(String::as_str).collect::<Vec<_>>(),
            "{t}: not the objects of the embedded run"
        );
        for key in &got {
            let (farm, embedded) = (b.store.get(key).unwrap(), &want[&key[prefix.len()..]]);
            if farm != *embedded {
                // Manifests are text: show both.
                let text = [".m3u8", ".mpd"].iter().any(|e| key.ends_with(e));
                panic!(
                    "{key} differs from the embedded run ({} bytes, embedded {}){}",
                    farm.len(),
                    embedded.len(),
                    if text {
                        format!(
                            ":\n--- farm\n{}\n--- embedded\n{}",
                            String::from_utf8_lossy(&farm),
                            String::from_utf8_lossy(embedded)
                        )
                    } else {
                        String::new()
                    }
                );
            }
        }
        let id = TitleId::parse(t).unwrap();
        let records = b.store.list(&keys::publish_prefix(&id)).unwrap();
        assert_eq!(records.len(), 1, "{t}: publish records {records:?}");
    }
    for q in workers::runner::QUEUES {
        let dlq = format!("{q}-dlq");
        let n = b.queue.depth(&dlq).unwrap() + b.queue.in_flight(&dlq).unwrap();
        assert_eq!(n, 0, "{dlq} holds {n} message(s)");
    }
}

/// Messages logged across the workers' logs, by text.
fn logged(logs: &[PathBuf], what: &str) -> usize {
    logs.iter()
        .flat_map(|l| events(l))
        .filter(|e| e.0 == what)
        .count()
}

/// Two titles, three workers whose every S3 and SQS request goes through the faulty
/// proxy. `init` and `submit` talk to moto directly: they are the operator's side, not
/// the farm, and a submit whose send failed after its request was stored is not
/// resumed by submitting again (it answers "already submitted" without queueing the
/// ingest), so faulting it would make the test fail by design.
#[test]
fn faulty_network_between_workers_and_moto_still_publishes_exactly_once() {
    let started = Instant::now();
    let seed = seed("faulty network");
    let server = servers::moto();
    let proxy = Proxy::start(&server.url, seed, 50);
    let tmp = tempfile::tempdir().unwrap();
    let direct = tmp.path().join("direct.toml");
    let proxied = tmp.path().join("proxied.toml");
    std::fs::write(&direct, servers::moto_config(&server.url, "flaky-", 9)).unwrap();
    std::fs::write(&proxied, servers::moto_config(&proxy.url, "flaky-", 9)).unwrap();
    ok(vodfarm_cmd(&direct).arg("init").output().unwrap());

    let titles = [
        ("ts".to_string(), fixture("mpeg2-29.97fps-ts").1),
        ("fourthree".to_string(), fixture("h264-4x3-25fps").1),
    ];
    for (t, m) in &titles {
        submit(&direct, t, m);
    }
    let workers: Vec<Worker> = (0..3)
        .map(|n| start_worker(&proxied, tmp.path(), n))
        .collect();
    let b = backends(&direct);
    wait_published(&b, &titles, Duration::from_secs(360));
    wait_drained(&b, Duration::from_secs(120));
    let farm_secs = started.elapsed().as_secs_f64();
    let logs: Vec<PathBuf> = workers.iter().map(|w| w.log.clone()).collect();
    drop(workers);

    let c = proxy.counts();
    let faults = proxy.faults();
    let total: u64 = faults.iter().map(|(_, n)| n).sum();
    println!(
        "faulty network: {} requests proxied ({} S3, {} SQS; {} chunked bodies, {} Expect: 100-continue), {total} faults injected: {}; {} upstream errors",
        c.requests.load(Ordering::SeqCst),
        c.s3.load(Ordering::SeqCst),
        c.sqs.load(Ordering::SeqCst),
        c.chunked.load(Ordering::SeqCst),
        c.expect.load(Ordering::SeqCst),
        faults
            .iter()
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect::<Vec<_>>()
            .join(", "),
        c.upstream_errors.load(Ordering::SeqCst),
    );
    println!(
        "faulty network: {} titles published in {farm_secs:.1} s; jobs retried by the runner: {}; errors outside a stage: {}",
        titles.len(),
        logged(&logs, "will retry"),
        logged(&logs, "worker"),
    );
    assert!(total > 0, "no fault was injected");
    assert_eq!(c.upstream_errors.load(Ordering::SeqCst), 0, "moto failed");
    assert_exactly_once(&b, &titles, tmp.path());
    println!(
        "faulty network: checked in {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

/// Three workers on moto; every 2–4 s one at random is SIGKILLed and a fresh one
/// started in its place, 8 times; at least one kill lands while a title is packaging
/// (on its packager, when the logs name it in time). Titles keep arriving while the
/// workers are killed (a 720p sample again after kills 2, 4, 6 and 7, and whenever
/// every title so far is published), so that no kill lands on an idle farm for lack of
/// work. Then the survivors finish.
#[test]
fn workers_killed_every_few_seconds_still_publish_exactly_once() {
    const KILLS: usize = 8;
    let started = Instant::now();
    let mut rng = Rng(seed("kill loop"));
    // Short visibility: a killed worker's message is back within 6 s.
    let (_server, tmp, config) = moto_farm("kill-", 6);

    // A 720p sample with audio (three rungs, three chunks; under 8 MiB, since moto 5.2's
    // CompleteMultipartUpload answer is refused by the SDK) and the smallest fixture
    // with audio.
    let big = sample_720p(tmp.path());
    let mut workers: Vec<Worker> = (0..3)
        .map(|n| start_worker(&config, tmp.path(), n))
        .collect();
    let mut spawned = workers.len();
    let mut dead_logs: Vec<PathBuf> = Vec::new();
    let b = backends(&config);
    let mut titles: Vec<(String, PathBuf)> = Vec::new();
    for (t, m) in [
        ("ts".to_string(), fixture("mpeg2-29.97fps-ts").1),
        ("big-0".to_string(), big.clone()),
    ] {
        submit(&config, &t, &m);
        titles.push((t, m));
    }
    let loop_started = Instant::now();

    let (mut kills, mut while_packaging, mut packagers) = (0, 0, 0);
    let mut next_kill = Instant::now() + Duration::from_millis(2000 + rng.below(2001));
    let mut packaging_since: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(240);
    while kills < KILLS {
        assert!(
            Instant::now() < deadline,
            "{kills} kills in 4 min: the farm is stuck"
        );
        let s = states(&b, &titles);
        assert!(!s.contains(&Some(State::Failed)), "a title failed: {s:?}");
        if s.iter().all(|s| *s == Some(State::Published)) {
            let t = format!("big-idle{kills}");
            submit(&config, &t, &big);
            titles.push((t, big.clone()));
            continue;
        }
        let packaging = titles
            .iter()
            .zip(&s)
            .find(|(_, s)| **s == Some(State::Packaging))
            .map(|((t, _), _)| t.clone());
        if packaging.is_none() {
            packaging_since = None;
        }
        // While no kill has landed during packaging: the worker that logged
        // "packaging" for the title and not yet "published" is the one to kill; give
        // the package job up to 3 s to be picked up, then kill any.
        let mut victim = None;
        let mut during = false;
        let mut packager = false;
        if let (0, Some(t)) = (while_packaging, &packaging) {
            let since = *packaging_since.get_or_insert_with(Instant::now);
            let found = workers.iter().position(|w| {
                let ev = events(&w.log);
                let has = |what: &str| ev.iter().any(|e| e.0 == what && e.1 == *t);
                has("packaging") && !has("published")
            });
            if found.is_some() {
                victim = found;
                packager = true;
            } else if since.elapsed() > Duration::from_secs(3) {
                victim = Some(rng.below(workers.len() as u64) as usize);
            }
            during = victim.is_some();
        }
        // The last kill waits for packaging if none has landed there yet.
        let hold = kills + 1 == KILLS && while_packaging == 0;
        if victim.is_none() && !hold && Instant::now() >= next_kill {
            victim = Some(rng.below(workers.len() as u64) as usize);
            during = packaging.is_some();
        }
        if let Some(i) = victim {
            let w = &mut workers[i];
            w.child.kill().unwrap(); // SIGKILL
            w.child.wait().unwrap();
            let replacement = start_worker(&config, tmp.path(), spawned);
            spawned += 1;
            dead_logs.push(std::mem::replace(&mut workers[i], replacement).log.clone());
            kills += 1;
            while_packaging += usize::from(during);
            packagers += usize::from(packager);
            next_kill = Instant::now() + Duration::from_millis(2000 + rng.below(2001));
            println!(
                "kill loop: kill {kills} at {:.1} s, worker slot {i}{}",
                loop_started.elapsed().as_secs_f64(),
                match (during, packager) {
                    (_, true) => format!(", the packager of {}", packaging.as_deref().unwrap()),
                    (true, false) =>
                        format!(", while {} is packaging", packaging.as_deref().unwrap()),
                    _ => String::new(),
                }
            );
            if [2, 4, 6, 7].contains(&kills) {
                let t = format!("big-{kills}");
                submit(&config, &t, &big);
                titles.push((t, big.clone()));
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let kill_secs = loop_started.elapsed().as_secs_f64();

    wait_published(&b, &titles, Duration::from_secs(300));
    wait_drained(&b, Duration::from_secs(120));
    let farm_secs = loop_started.elapsed().as_secs_f64();
    let mut logs = dead_logs;
    logs.extend(workers.iter().map(|w| w.log.clone()));
    drop(workers);
    let chunks: usize = titles
        .iter()
        .map(|(t, _)| {
            workers::status::read(b.store.as_ref(), &TitleId::parse(t).unwrap())
                .unwrap()
                .chunks
        })
        .sum();
    println!(
        "kill loop: {kills} kills in {kill_secs:.1} s ({while_packaging} while packaging, {packagers} of the packager itself), {spawned} worker processes; {} titles published {farm_secs:.1} s after the first submit; chunk encodes started {} times for {chunks} chunks; packaging started {} times",
        titles.len(),
        logged(&logs, "encoding"),
        logged(&logs, "packaging"),
    );
    assert_eq!(kills, KILLS);
    assert!(while_packaging >= 1, "no kill while packaging");
    assert_exactly_once(&b, &titles, tmp.path());
    println!(
        "kill loop: checked in {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}
