//! Job events: what `vodfarm run` records in `control/events/`, what `vodfarm events`
//! prints (at once and with --follow), and delivery to webhooks (retried when the
//! receiver is down, signed, never holding up a stage).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{fixture, ok, run_title, vodfarm};

/// A small title: 9 s of 640x360 at 24 fps, one rung (the benchmark ladder fitted to
/// it), three chunks and the audio: four parts.
const SETTINGS: &[&str] = &["--ladder", "benchmark", "--chunk-segments", "1"];

/// A child process killed when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The stored events of `title`, in key order, as (key, text, JSON).
fn stored(store: &Path, title: &str) -> Vec<(String, String, serde_json::Value)> {
    let dir = store.join("control/events").join(title);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(&n)).unwrap();
            let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{n}: {e}"));
            (n, text, json)
        })
        .collect()
}

/// Every message of `name` (events' JSON), in order of their `seq`.
fn drain_by_seq(q: &dyn workers::queue::Queue, name: &str) -> Vec<String> {
    let mut got = Vec::new();
    while let Some(m) = q
        .receive(name, Duration::from_secs(60), Duration::ZERO)
        .unwrap()
    {
        got.push(m.body);
    }
    got.sort_by_key(|b| serde_json::from_str::<serde_json::Value>(b).unwrap()["seq"].as_u64());
    got
}

fn kinds(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

/// The history of a title, checked against the schema: numbered 1..=n without gaps,
/// ids `<title>:<seq>`, schema 1, RFC 3339 times; submitted, inspected, ladder chosen,
/// progress rising to 100%, packaged, published, in that order.
fn check_history(title: &str, events: &[serde_json::Value]) {
    for (i, e) in events.iter().enumerate() {
        let seq = i as u64 + 1;
        assert_eq!(e["schema"], 1, "{e}");
        assert_eq!(e["seq"], seq, "{e}");
        assert_eq!(e["id"], format!("{title}:{seq}"), "{e}");
        assert_eq!(e["title"], title, "{e}");
        let time = e["time"].as_str().unwrap();
        assert!(
            time.len() == 24 && time.ends_with('Z') && &time[10..11] == "T",
            "{time}"
        );
    }
    let kinds = kinds(events);
    let progress: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["kind"] == "progress").collect();
    let mut expected = vec!["submitted", "inspected", "ladder_chosen"];
    expected.extend(std::iter::repeat_n("progress", progress.len()));
    expected.extend(["packaged", "published"]);
    assert_eq!(kinds, expected);
    let percents: Vec<u64> = progress
        .iter()
        .map(|e| e["details"]["percent"].as_u64().unwrap())
        .collect();
    assert!(percents.windows(2).all(|w| w[0] < w[1]), "{percents:?}");
    assert_eq!(percents.last(), Some(&100), "{percents:?}");
    let d = |k: &str| &events[kinds.iter().position(|x| x == k).unwrap()]["details"];
    assert_eq!(d("submitted")["ladder"], "benchmark");
    assert_eq!(d("submitted")["per_title"], false);
    assert_eq!(d("inspected")["verdict"], "passed");
    let rungs = d("ladder_chosen")["rungs"].as_array().unwrap();
    assert_eq!(
        rungs.len(),
        1,
        "the 640x360 master takes the 360p rung only"
    );
    assert_eq!(rungs[0]["width"], 640);
    assert_eq!(d("progress")["parts"], 4);
    assert_eq!(
        d("packaged")["renditions"].as_array().unwrap().len(),
        2,
        "one video and one audio rendition"
    );
    assert_eq!(d("published")["hls"], format!("origin/{title}/master.m3u8"));
}

/// `vodfarm run` records the title's history; `vodfarm events --title` prints exactly
/// the stored lines; a follower started before the run prints the same lines as they
/// are stored and exits 0 on SIGINT.
#[test]
fn run_records_the_history_and_events_prints_it() {
    let (_, master) = fixture("h264-24fps-aac");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    let mut follower = Child(
        Command::new(env!("CARGO_BIN_EXE_vodfarm"))
            .args(["events", "--follow", "--store", store.to_str().unwrap()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (tx, lines) = mpsc::channel();
    let out = follower.0.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for l in BufReader::new(out).lines() {
            if tx.send(l.unwrap()).is_err() {
                break;
            }
        }
    });
    ok(run_title(&master, "ev1", &store, SETTINGS));

    let events = stored(&store, "ev1");
    let json: Vec<serde_json::Value> = events.iter().map(|(_, _, j)| j.clone()).collect();
    check_history("ev1", &json);
    for (name, text, j) in &events {
        assert_eq!(name, &format!("{:08}.json", j["seq"].as_u64().unwrap()));
        assert!(
            text.ends_with('\n') && text.matches('\n').count() == 1,
            "one line: {text:?}"
        );
    }
    let expected: Vec<String> = events
        .iter()
        .map(|(_, t, _)| t.trim_end().to_string())
        .collect();

    let printed = ok(vodfarm(&[
        "events",
        "--title",
        "ev1",
        "--store",
        store.to_str().unwrap(),
    ]));
    assert_eq!(printed.lines().collect::<Vec<_>>(), expected);

    // The follower: every line, in order (a guard against hanging, not a timing claim).
    let mut followed = Vec::new();
    while followed.len() < expected.len() {
        match lines.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => followed.push(l),
            Err(e) => panic!(
                "follower printed {} of {} lines: {e}",
                followed.len(),
                expected.len()
            ),
        }
    }
    assert_eq!(followed, expected);
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(follower.0.id() as i32, libc::SIGINT) };
    let status = follower.0.wait().unwrap();
    assert!(status.success(), "follower exits 0 on SIGINT: {status}");
    reader.join().unwrap();
}

/// One request the test's webhook receiver got.
#[derive(Debug, Clone)]
struct Request {
    /// Header names in lower case.
    headers: std::collections::BTreeMap<String, String>,
    body: String,
    /// The status it was answered with.
    status: u16,
}

/// A webhook receiver on 127.0.0.1: answers 503 to the first `down_for` requests, then
/// 200; with `hold`, keeps the first request unanswered until `hold` returns true (or
/// a guard of 300 s passes, so that a broken build fails instead of hanging) and
/// records whether it did.
struct Receiver {
    url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<Request>>>,
    held_until: std::sync::Arc<std::sync::Mutex<Option<bool>>>,
    /// Connections that ended before a whole request was read (a TLS handshake the
    /// client gave up, say).
    broken: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

type Hold = Box<dyn Fn() -> bool + Send>;

fn receiver(down_for: usize, hold: Option<Hold>) -> Receiver {
    serve_hooks(down_for, hold, None)
}

/// What one receiver thread keeps between connections.
struct Hooks {
    down_for: usize,
    hold: Option<Hold>,
    got: std::sync::Arc<std::sync::Mutex<Vec<Request>>>,
    held_until: std::sync::Arc<std::sync::Mutex<Option<bool>>>,
}

impl Hooks {
    /// Read one request from `stream` and answer it. Err: the connection ended first.
    fn serve(&self, stream: impl std::io::Read + std::io::Write) -> std::io::Result<()> {
        use std::io::Read;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        assert!(line.starts_with("POST /hooks/vodfarm HTTP/1.1"), "{line:?}");
        let mut headers = std::collections::BTreeMap::new();
        loop {
            let mut l = String::new();
            reader.read_line(&mut l)?;
            let l = l.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap();
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
        let len: usize = headers["content-length"].parse().unwrap();
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        let n = self.got.lock().unwrap().len();
        if n == 0 {
            if let Some(hold) = &self.hold {
                let guard = std::time::Instant::now();
                let mut done = hold();
                while !done && guard.elapsed() < Duration::from_secs(300) {
                    std::thread::sleep(Duration::from_millis(100));
                    done = hold();
                }
                *self.held_until.lock().unwrap() = Some(done);
            }
        }
        let status = if n < self.down_for { 503 } else { 200 };
        self.got.lock().unwrap().push(Request {
            headers,
            body: String::from_utf8(body).unwrap(),
            status,
        });
        let reason = if status == 200 {
            "OK"
        } else {
            "Service Unavailable"
        };
        let stream = reader.get_mut();
        let _ = write!(
            stream,
            "HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let _ = stream.flush();
        Ok(())
    }
}

/// A receiver as [`receiver`], over TLS with `tls` (an https:// URL) when given.
fn serve_hooks(
    down_for: usize,
    hold: Option<Hold>,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
) -> Receiver {
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!(
        "{scheme}://{}/hooks/vodfarm",
        listener.local_addr().unwrap()
    );
    let hooks = Hooks {
        down_for,
        hold,
        got: Arc::default(),
        held_until: Arc::default(),
    };
    let broken: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
    let receiver = Receiver {
        url,
        got: hooks.got.clone(),
        held_until: hooks.held_until.clone(),
        broken: broken.clone(),
    };
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(tcp) = stream else { continue };
            let served = match &tls {
                None => hooks.serve(tcp),
                Some(config) => {
                    let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                    hooks.serve(rustls::StreamOwned::new(conn, tcp))
                }
            };
            if served.is_err() {
                broken.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
    });
    receiver
}

const SECRET: &str = "s3cret-for-the-test";

/// The config of a run whose events go to `url`, signed with [`SECRET`] from the
/// environment.
fn config(url: &str, extra: &str) -> String {
    format!(
        "[events]\nwebhooks = [\"{url}\"]\nsecret_env = \"VODFARM_TEST_WEBHOOK_SECRET\"\nbackoff_ms = 50\n{extra}"
    )
}

fn run_with_events(master: &Path, title: &str, store: &Path, config: &str) -> std::process::Output {
    let mut args = vec![
        "run",
        master.to_str().unwrap(),
        "--title",
        title,
        "--store",
        store.to_str().unwrap(),
    ];
    args.extend_from_slice(SETTINGS);
    Command::new(env!("CARGO_BIN_EXE_vodfarm"))
        .args(&args)
        .env("VODFARM_LOG", "error")
        .env("VODFARM_CONFIG_TOML", config)
        .env("VODFARM_TEST_WEBHOOK_SECRET", SECRET)
        .output()
        .unwrap()
}

/// The signature a receiver computes: HMAC-SHA256 of the body with the shared secret,
/// by the hmac crate (not vodfarm's code).
fn expected_signature(body: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Every request signed, named and typed as the README says.
fn check_requests(requests: &[Request]) {
    for r in requests {
        assert_eq!(
            r.headers["x-vodfarm-signature"],
            expected_signature(&r.body),
            "{r:?}"
        );
        assert_ne!(
            r.headers["x-vodfarm-signature"],
            expected_signature(&format!("{} ", r.body)),
            "the signature covers the body"
        );
        let e: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(r.headers["x-vodfarm-delivery"], e["id"].as_str().unwrap());
        assert_eq!(r.headers["x-vodfarm-event"], e["kind"].as_str().unwrap());
        assert_eq!(r.headers["content-type"], "application/json");
    }
}

/// A receiver down for the first 3 attempts still gets every event of the title, in
/// order, each exactly as stored and validly signed; the `[events] queue` sink gets
/// every event too.
#[test]
fn webhook_down_for_three_attempts_gets_every_event_in_order() {
    let (_, master) = fixture("h264-24fps-aac");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let hook = receiver(3, None);
    let out = run_with_events(
        &master,
        "ev2",
        &store,
        &config(&hook.url, "queue = \"events\"\n"),
    );
    ok(out);

    let stored: Vec<String> = stored(&store, "ev2")
        .into_iter()
        .map(|(_, text, _)| text.trim_end().to_string())
        .collect();
    let json: Vec<serde_json::Value> = stored
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    check_history("ev2", &json);

    let got = hook.got.lock().unwrap().clone();
    check_requests(&got);
    let statuses: Vec<u16> = got.iter().map(|r| r.status).collect();
    assert_eq!(
        &statuses[..4],
        &[503, 503, 503, 200],
        "down for three attempts"
    );
    assert!(
        got[..4].iter().all(|r| r.body == stored[0]),
        "the first event is retried at the head of the line"
    );
    let accepted: Vec<&str> = got
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.body.as_str())
        .collect();
    assert_eq!(
        accepted, stored,
        "every event once, in seq order, as stored"
    );
    assert_eq!(got.len(), stored.len() + 3);

    // The queue sink: every event's JSON as a message of the embedded queue.
    let q = workers::queue::LocalQueue::open(&store.join("queues"), 5).unwrap();
    assert_eq!(drain_by_seq(&q, "events"), stored);
}

/// A receiver that does not answer does not hold up the stages: the title is
/// published (its `published` event stored) while the receiver still holds the first
/// event's request; once it answers, it gets the rest, in order, before `run` exits.
#[test]
fn a_slow_webhook_does_not_slow_the_stages() {
    let (_, master) = fixture("h264-24fps-aac");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let events_dir = store.join("control/events/ev3");
    let published = move || {
        std::fs::read_dir(&events_dir).is_ok_and(|d| {
            d.flatten().any(|e| {
                std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(r#""kind":"published""#))
            })
        })
    };
    let hook = receiver(0, Some(Box::new(published)));
    let out = run_with_events(
        &master,
        "ev3",
        &store,
        &config(&hook.url, "timeout_seconds = 600\ndrain_seconds = 600\n"),
    );
    ok(out);
    assert_eq!(
        *hook.held_until.lock().unwrap(),
        Some(true),
        "the title was published while its first event's delivery was held"
    );
    let stored: Vec<String> = stored(&store, "ev3")
        .into_iter()
        .map(|(_, text, _)| text.trim_end().to_string())
        .collect();
    let got = hook.got.lock().unwrap().clone();
    check_requests(&got);
    let bodies: Vec<&str> = got.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(bodies, stored, "then every event, in order");
}

/// The farm's processes on the embedded backends: `vodfarm submit` delivers the
/// `submitted` event (through a receiver down for its first 3 attempts) before it
/// exits; `vodfarm worker` delivers the rest, and on SIGTERM finishes delivering and
/// exits 0. The receiver has every event of the title once, in order, as stored.
#[test]
fn submit_and_worker_deliver_every_event() {
    let (_, master) = fixture("h264-24fps-aac");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let hook = receiver(3, None);
    let config = format!(
        "[store]\nbackend = \"embedded\"\ndir = \"{}\"\n{}",
        store.display(),
        config(&hook.url, "")
    );
    let farm = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vodfarm"));
        c.args(args)
            .env("VODFARM_LOG", "error")
            .env_remove("VODFARM_CONFIG")
            .env("VODFARM_CONFIG_TOML", &config)
            .env("VODFARM_TEST_WEBHOOK_SECRET", SECRET);
        c
    };
    let mut submit = vec!["submit", master.to_str().unwrap(), "--title", "ev4"];
    submit.extend_from_slice(SETTINGS);
    assert_eq!(ok(farm(&submit).output().unwrap()).trim(), "ev4");
    {
        let got = hook.got.lock().unwrap();
        let statuses: Vec<u16> = got.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [503, 503, 503, 200],
            "submit delivered its event before exiting"
        );
    }

    let mut worker = Child(
        farm(&["worker", "--concurrency", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Until the title's `published` event is stored (a guard, not a timing claim).
    let events_dir = store.join("control/events/ev4");
    let guard = std::time::Instant::now();
    while !std::fs::read_dir(&events_dir).is_ok_and(|d| {
        d.flatten().any(|e| {
            std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(r#""kind":"published""#))
        })
    }) {
        assert!(guard.elapsed() < Duration::from_secs(300), "not published");
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(worker.0.id() as i32, libc::SIGTERM) };
    assert!(
        worker.0.wait().unwrap().success(),
        "worker exits 0 on SIGTERM"
    );

    let stored: Vec<String> = stored(&store, "ev4")
        .into_iter()
        .map(|(_, text, _)| text.trim_end().to_string())
        .collect();
    let json: Vec<serde_json::Value> = stored
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    check_history("ev4", &json);
    let got = hook.got.lock().unwrap().clone();
    check_requests(&got);
    let accepted: Vec<&str> = got
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.body.as_str())
        .collect();
    assert_eq!(accepted, stored);
}

/// A private CA and a certificate it signed for 127.0.0.1, made by the openssl tool (an
/// outside implementation): (CA certificate PEM path, server TLS config).
fn private_ca(dir: &Path) -> (std::path::PathBuf, std::sync::Arc<rustls::ServerConfig>) {
    use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl tool (apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509", "-days", "2", "-subj", "/CN=vodfarm test CA"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem"],
            &["-addext", "basicConstraints=critical,CA:TRUE"],
            &["-addext", "keyUsage=critical,keyCertSign"],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req", "-subj", "/CN=127.0.0.1"][..],
            &ec,
            &["-keyout", "server.key", "-out", "server.csr"],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-days",
        "2",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
    let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    (dir.join("ca.pem"), std::sync::Arc::new(config))
}

/// https webhooks: a receiver whose certificate a private CA signed gets every event,
/// signed, over TLS, when `ca_file` names that CA; without it the client refuses the
/// certificate, nothing is delivered, and the title is published all the same. A
/// `ca_file` that does not exist stops `run` when it reads its config, before it
/// writes anything.
#[test]
fn https_webhook_verified_against_ca_file() {
    let (_, master) = fixture("h264-24fps-aac");
    let tmp = tempfile::tempdir().unwrap();
    let (ca, tls) = private_ca(tmp.path());

    let hook = serve_hooks(0, None, Some(tls.clone()));
    assert!(hook.url.starts_with("https://127.0.0.1:"), "{}", hook.url);
    let store = tmp.path().join("store");
    let extra = format!("ca_file = \"{}\"\n", ca.display());
    ok(run_with_events(
        &master,
        "ev5",
        &store,
        &config(&hook.url, &extra),
    ));
    let events: Vec<String> = stored(&store, "ev5")
        .into_iter()
        .map(|(_, text, _)| text.trim_end().to_string())
        .collect();
    let got = hook.got.lock().unwrap().clone();
    check_requests(&got);
    let bodies: Vec<&str> = got.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(bodies, events, "every event once, in order, over TLS");

    // The same receiver's certificate, not trusted: the handshake fails, every attempt.
    let untrusted = serve_hooks(0, None, Some(tls));
    let store2 = tmp.path().join("store2");
    ok(run_with_events(
        &master,
        "ev6",
        &store2,
        &config(&untrusted.url, "attempts = 2\ndrain_seconds = 5\n"),
    ));
    assert!(stored(&store2, "ev6")
        .iter()
        .any(|(_, t, _)| t.contains(r#""kind":"published""#)));
    assert!(untrusted.got.lock().unwrap().is_empty(), "no request read");
    assert!(
        untrusted.broken.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the client tried and gave up in the handshake"
    );

    // A CA file that is not there: a one-line error naming it, nothing stored.
    let store3 = tmp.path().join("store3");
    let out = run_with_events(
        &master,
        "ev7",
        &store3,
        &config(&hook.url, "ca_file = \"/nonexistent/ca.pem\"\n"),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("events.ca_file '/nonexistent/ca.pem'"),
        "{err}"
    );
    assert!(
        !store3.exists(),
        "refused with the config, before anything is written"
    );
}

/// `[events] sns_topic`: `vodfarm init` makes the topic on moto (a real SNS API on
/// 127.0.0.1), and `vodfarm run` publishes every event of the title there; a queue
/// subscribed by boto3 (an outside client) gets each one as stored (a standard topic
/// does not keep order: compared in order of seq).
#[test]
fn sns_topic_gets_every_event() {
    let (_, master) = fixture("h264-24fps-aac");
    let server = crate::servers::moto();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let arn = "arn:aws:sns:us-east-1:123456789012:vodfarm-test-events";
    let config = format!(
        "[store]\nbackend = \"embedded\"\ndir = \"{}\"\n[events]\nsns_topic = \"{arn}\"\nsns_endpoint = \"{}\"\nbackoff_ms = 50\n",
        store.display(),
        server.url
    );
    let farm = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vodfarm"))
            .args(args)
            .env("VODFARM_LOG", "error")
            .env_remove("VODFARM_CONFIG")
            .env("VODFARM_CONFIG_TOML", &config)
            .output()
            .unwrap()
    };
    ok(farm(&["init"]));
    let subscribe = format!(
        r#"
import boto3
kw = dict(endpoint_url="{url}", region_name="us-east-1")
boto3.client("sqs", **kw).create_queue(QueueName="ev-sub")
boto3.client("sns", **kw).subscribe(TopicArn="{arn}", Protocol="sqs",
    Endpoint="arn:aws:sqs:us-east-1:123456789012:ev-sub",
    Attributes={{"RawMessageDelivery": "true"}})
"#,
        url = server.url
    );
    let py = Command::new("python3")
        .args(["-c", &subscribe])
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );

    let mut run = vec![
        "run",
        master.to_str().unwrap(),
        "--title",
        "ev8",
        "--store",
        store.to_str().unwrap(),
    ];
    run.extend_from_slice(SETTINGS);
    ok(farm(&run));
    let stored: Vec<String> = stored(&store, "ev8")
        .into_iter()
        .map(|(_, text, _)| text.trim_end().to_string())
        .collect();
    let q = vodfarm_aws::SqsQueue::new("", Some(&server.url), Some("us-east-1"));
    assert_eq!(drain_by_seq(&q, "ev-sub"), stored);
}
