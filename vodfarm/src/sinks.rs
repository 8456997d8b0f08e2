//! Where job events go besides the store: webhooks (HTTP POST of the event's JSON,
//! signed with HMAC-SHA256), a queue of the process's backend (SQS or embedded) and an
//! SNS topic, all from the `[events]` table of the config:
//!
//! ```toml
//! [events]
//! webhooks = ["https://ops.example.com/hooks/vodfarm"]
//! secret_env = "VODFARM_WEBHOOK_SECRET"   # or secret = "..." (one of them with webhooks)
//! queue = "events"          # each event's JSON as a message (SQS: <prefix>events; init makes it)
//! sns_topic = "arn:aws:sns:eu-west-1:123456789012:vodfarm-events"  # each event published there
//! sns_endpoint = "http://127.0.0.1:5000"  # optional: a local server (moto)
//! attempts = 10             # per event and sink, then it is logged and dropped
//! backoff_ms = 1000         # before the second attempt; doubles, at most max_backoff_seconds
//! max_backoff_seconds = 60
//! timeout_seconds = 10      # one HTTP request (a webhook's, an SNS publish), connecting included
//! ca_file = "/etc/vodfarm/hooks-ca.pem"  # CAs trusted for https webhooks besides the public roots
//! drain_seconds = 30        # how long a process ending waits for events still to deliver
//! ```
//!
//! Each sink has its own thread and FIFO channel: the emitting stage only puts the
//! event into the channels without waiting (see `workers::events::subscribe`), so a
//! slow or down receiver never slows a stage. A channel holds at most [`BACKLOG`]
//! events; past that, new events are counted and logged, not queued. A sink delivers its events one at a time in the order
//! they came (a title's events come in `seq` order): an event that fails is retried at
//! the head of the line with exponential back-off, so a receiver that comes back gets
//! every event in order. After `attempts` it is logged and dropped (it stays in the
//! store: `vodfarm events --title ID` shows it). A 4xx answer other than 408 and 429
//! is not retried: the receiver refused that event.
//!
//! Delivery is at least once: an answer lost after the receiver acted on it is
//! delivered again; the event's `id` is the same every time.
//!
//! An SNS topic gets each event's JSON as the message, with message attributes `kind`
//! and `title` (String), so that subscriptions can filter by kind; on a FIFO topic the
//! title is the message group and the event's id the deduplication id.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use workers::events::{Event, Subscription};
use workers::queue::Queue;

/// The signature header: `sha256=<hex HMAC-SHA256(secret, body)>` (GitHub's format, so
/// existing verifiers work).
pub const SIGNATURE_HEADER: &str = "X-Vodfarm-Signature";
/// The event's kind.
pub const EVENT_HEADER: &str = "X-Vodfarm-Event";
/// The event's id (`<title>:<seq>`), the same on every delivery of it.
pub const DELIVERY_HEADER: &str = "X-Vodfarm-Delivery";
/// Events a sink holds at most, waiting for delivery (about five hundred titles' worth),
/// so a receiver down for long costs bounded memory.
pub const BACKLOG: usize = 10_000;

/// The `[events]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    /// URLs each event is POSTed to (http or https).
    #[serde(default)]
    pub webhooks: Vec<String>,
    /// The HMAC key, written in the config.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// The name of an environment variable holding the HMAC key (kept out of files).
    #[serde(default)]
    pub secret_env: Option<String>,
    /// A queue of the process's backend that gets each event's JSON as a message.
    #[serde(default)]
    pub queue: Option<String>,
    /// An SNS topic (its ARN) each event is published to.
    #[serde(default)]
    pub sns_topic: Option<String>,
    /// Where SNS is reached instead of the topic region's endpoint (a local server).
    #[serde(default)]
    pub sns_endpoint: Option<String>,
    /// Attempts per event and sink.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// Wait before the second attempt, in milliseconds; doubles with each attempt.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    /// The longest wait between attempts.
    #[serde(default = "default_max_backoff")]
    pub max_backoff_seconds: u64,
    /// The longest one HTTP request may take.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// How long a process that is ending waits for its events still to be delivered.
    #[serde(default = "default_drain")]
    pub drain_seconds: u64,
    /// PEM certificates of CAs trusted for https webhooks besides the public roots
    /// (Mozilla's, built in): a receiver behind a company's own CA.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
}

/// A secret that `{:?}` does not print.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

fn default_attempts() -> u32 {
    10
}
fn default_backoff_ms() -> u64 {
    1000
}
fn default_max_backoff() -> u64 {
    60
}
fn default_timeout() -> u64 {
    10
}
fn default_drain() -> u64 {
    30
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            webhooks: Vec::new(),
            secret: None,
            secret_env: None,
            queue: None,
            sns_topic: None,
            sns_endpoint: None,
            attempts: default_attempts(),
            backoff_ms: default_backoff_ms(),
            max_backoff_seconds: default_max_backoff(),
            timeout_seconds: default_timeout(),
            drain_seconds: default_drain(),
            ca_file: None,
        }
    }
}

impl EventsConfig {
    /// What the TOML parser cannot check: one line naming the field and what is accepted.
    pub fn check(&self) -> Result<(), String> {
        for url in &self.webhooks {
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            let ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'));
            if !ok {
                return Err(format!(
                    "events.webhooks: '{url}' is not an http:// or https:// URL"
                ));
            }
        }
        if !self.webhooks.is_empty() && self.secret.is_none() == self.secret_env.is_none() {
            return Err(
                "events: webhooks are signed; set exactly one of secret or secret_env".into(),
            );
        }
        if let Some(q) = &self.queue {
            // What SQS accepts, and safe as the embedded queue's folder name.
            let ok = (1..=80).contains(&q.len())
                && q.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(format!(
                    "events.queue '{q}': use 1-80 characters from a-z, A-Z, 0-9, '-' and '_'"
                ));
            }
        }
        if let Some(path) = &self.ca_file {
            if !self.webhooks.iter().any(|u| u.starts_with("https://")) {
                return Err(format!(
                    "events.ca_file '{}' is set but no webhook is an https:// URL",
                    path.display()
                ));
            }
            // Read now, when the config is loaded: a bad file is one line before any
            // work, not a failed delivery later.
            tls_with_ca_file(path).map_err(|e| format!("{e:#}"))?;
        }
        if let Some(arn) = &self.sns_topic {
            vodfarm_aws::sns::TopicArn::parse(arn).map_err(|e| format!("events.sns_topic: {e}"))?;
        }
        if self.sns_endpoint.is_some() && self.sns_topic.is_none() {
            return Err("events.sns_endpoint is set without events.sns_topic".into());
        }
        if self.attempts == 0 {
            return Err("events.attempts must be at least 1".into());
        }
        if self.timeout_seconds == 0 {
            return Err("events.timeout_seconds must be at least 1".into());
        }
        Ok(())
    }

    /// Whether any sink is configured.
    pub fn any(&self) -> bool {
        !self.webhooks.is_empty() || self.queue.is_some() || self.sns_topic.is_some()
    }

    /// The HMAC key: `secret`, or the variable `secret_env` names (read now, so a
    /// missing variable is an error at start, not a failed delivery later).
    fn key(&self) -> Result<Vec<u8>> {
        match (&self.secret, &self.secret_env) {
            (Some(s), _) => Ok(s.0.clone().into_bytes()),
            (None, Some(var)) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(v.into_bytes()),
                _ => bail!(
                    "events.secret_env names {var}, which is not set (the webhooks' HMAC key)"
                ),
            },
            (None, None) => bail!("events: webhooks are signed; set secret or secret_env"),
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        Duration::from_millis(
            self.backoff_ms
                .saturating_mul(1u64 << attempt.saturating_sub(1).min(30)),
        )
        .min(Duration::from_secs(self.max_backoff_seconds))
    }
}

/// `sha256=<hex>`: HMAC-SHA256 of `body` with `key`, as the signature header carries it.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why one delivery attempt failed, and whether another may succeed.
struct Failure {
    retry: bool,
    why: String,
    /// The receiver's Retry-After, when it gave one.
    after: Option<Duration>,
}

/// One sink's way of delivering one event.
trait Deliver: Send {
    fn deliver(&mut self, event: &Event) -> Result<(), Failure>;
}

struct Webhook {
    url: String,
    key: Vec<u8>,
    agent: ureq::Agent,
}

impl Deliver for Webhook {
    fn deliver(&mut self, event: &Event) -> Result<(), Failure> {
        let body = event.to_json();
        let answer = self
            .agent
            .post(&self.url)
            .set("Content-Type", "application/json")
            .set(SIGNATURE_HEADER, &signature(&self.key, body.as_bytes()))
            .set(EVENT_HEADER, event.what.kind())
            .set(DELIVERY_HEADER, &event.id)
            .send_string(&body);
        match answer {
            Ok(r) if (200..300).contains(&r.status()) => Ok(()),
            // Redirects are not followed (a POST would become a GET): a refusal.
            Ok(r) => Err(Failure {
                retry: false,
                why: format!("HTTP {} (redirects are not followed)", r.status()),
                after: None,
            }),
            Err(ureq::Error::Status(code, r)) => Err(Failure {
                retry: code >= 500 || code == 429 || code == 408,
                why: format!("HTTP {code}"),
                after: r
                    .header("Retry-After")
                    .and_then(|s| s.trim().parse().ok())
                    .map(Duration::from_secs),
            }),
            Err(ureq::Error::Transport(t)) => Err(Failure {
                retry: true,
                why: t.to_string(),
                after: None,
            }),
        }
    }
}

struct QueueSink {
    name: String,
    queue: Arc<dyn Queue>,
}

impl Deliver for QueueSink {
    fn deliver(&mut self, event: &Event) -> Result<(), Failure> {
        self.queue
            .send(&self.name, &event.to_json())
            .map(|_| ())
            .map_err(|e| Failure {
                retry: e.is_transient(),
                why: workers::error::one_line(&e),
                after: None,
            })
    }
}

struct SnsSink {
    topic: vodfarm_aws::SnsTopic,
}

impl Deliver for SnsSink {
    fn deliver(&mut self, event: &Event) -> Result<(), Failure> {
        let title = event.title.to_string();
        self.topic
            .publish(
                &event.to_json(),
                &[("kind", event.what.kind()), ("title", &title)],
                &title,
                &event.id,
            )
            .map(|_| ())
            .map_err(|e| Failure {
                retry: e.transient,
                why: e.detail,
                after: None,
            })
    }
}

/// What became of one sink's events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Accepted by the receiver.
    pub delivered: u64,
    /// Dropped after the last attempt, or refused by the receiver.
    pub failed: u64,
    /// Not delivered because the process was ending (its drain time ran out).
    pub abandoned: u64,
    /// Not taken: the sink's backlog ([`BACKLOG`]) was full.
    pub overflowed: u64,
}

/// One sink's outcome, when the process ends.
#[derive(Debug, Clone)]
pub struct SinkReport {
    /// `webhook <url>`, `queue <name>` or `sns <arn>`.
    pub sink: String,
    /// Its counts.
    pub tally: Tally,
}

/// When the sinks must give up: unset while the process runs, set by `finish`.
#[derive(Default)]
struct Deadline {
    at: Mutex<Option<Instant>>,
    changed: Condvar,
}

impl Deadline {
    fn passed(&self) -> bool {
        let at = *self.at.lock().unwrap_or_else(|p| p.into_inner());
        at.is_some_and(|d| Instant::now() >= d)
    }

    /// Sleep `d`, waking early when the deadline passes: false if it has.
    fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        let mut at = self.at.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Instant::now();
            if at.is_some_and(|dl| now >= dl) {
                return false;
            }
            if now >= until {
                return true;
            }
            let wake = at.map_or(until, |dl| dl.min(until));
            at = self
                .changed
                .wait_timeout(at, wake - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn set(&self, d: Instant) {
        *self.at.lock().unwrap_or_else(|p| p.into_inner()) = Some(d);
        self.changed.notify_all();
    }
}

/// The running sinks of this process. `finish` (or dropping it) stops taking events
/// and waits up to `drain_seconds` for those still queued.
pub struct Sinks {
    subscription: Option<Subscription>,
    /// Each sink's name, thread, and events it had no room for.
    threads: Vec<(String, JoinHandle<Tally>, Arc<AtomicU64>)>,
    deadline: Arc<Deadline>,
    drain: Duration,
}

/// A TLS client that trusts the public roots and the CA certificates in `path` (PEM).
/// An unreadable file, or one without a certificate, is an error at start: a typo must
/// not show up later as every delivery failing.
fn tls_with_ca_file(path: &std::path::Path) -> Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let pem =
        std::fs::read(path).with_context(|| format!("events.ca_file '{}'", path.display()))?;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert
            .map_err(|e| anyhow::anyhow!("events.ca_file '{}': not PEM: {e:?}", path.display()))?;
        roots.add(cert).map_err(|e| {
            anyhow::anyhow!(
                "events.ca_file '{}': not a valid certificate: {e}",
                path.display()
            )
        })?;
        added += 1;
    }
    if added == 0 {
        anyhow::bail!("events.ca_file '{}': no certificate in it", path.display());
    }
    // ring, as ureq's own default: rustls is built with two providers here (the AWS
    // SDK brings aws-lc-rs), so none is the process default to pick implicitly.
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS protocol versions")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Start the sinks `config` names; `queue` is the process's queue backend (for
/// `[events] queue`). With none configured, nothing is started.
pub fn start(config: &EventsConfig, queue: Option<Arc<dyn Queue>>) -> Result<Sinks> {
    config.check().map_err(anyhow::Error::msg)?;
    let deadline = Arc::new(Deadline::default());
    let mut sinks = Sinks {
        subscription: None,
        threads: Vec::new(),
        deadline: deadline.clone(),
        drain: Duration::from_secs(config.drain_seconds),
    };
    if !config.any() {
        return Ok(sinks);
    }
    let mut targets: Vec<(String, Box<dyn Deliver>)> = Vec::new();
    if !config.webhooks.is_empty() {
        let key = config.key()?;
        let mut agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(config.timeout_seconds))
            .redirects(0)
            .user_agent(concat!("vodfarm/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &config.ca_file {
            agent = agent.tls_config(tls_with_ca_file(path)?);
        }
        let agent = agent.build();
        for url in &config.webhooks {
            targets.push((
                format!("webhook {url}"),
                Box::new(Webhook {
                    url: url.clone(),
                    key: key.clone(),
                    agent: agent.clone(),
                }),
            ));
        }
    }
    if let Some(name) = &config.queue {
        let queue = queue.context("events.queue needs a queue backend in this command")?;
        targets.push((
            format!("queue {name}"),
            Box::new(QueueSink {
                name: name.clone(),
                queue,
            }),
        ));
    }
    if let Some(arn) = &config.sns_topic {
        let topic = vodfarm_aws::SnsTopic::new(
            arn,
            config.sns_endpoint.as_deref(),
            Duration::from_secs(config.timeout_seconds),
        )
        .map_err(|e| anyhow::anyhow!("events.sns_topic: {e}"))?;
        targets.push((format!("sns {arn}"), Box::new(SnsSink { topic })));
    }
    let mut senders = Vec::new();
    for (name, target) in targets {
        let (tx, rx) = mpsc::sync_channel::<Event>(BACKLOG);
        let overflowed = Arc::new(AtomicU64::new(0));
        senders.push((name.clone(), tx, overflowed.clone()));
        let (config, deadline, label) = (config.clone(), deadline.clone(), name.clone());
        let thread = std::thread::Builder::new()
            .name("vodfarm-events".into())
            .spawn(move || deliver_all(&label, target, rx, &config, &deadline))
            .context("starting an event sink thread")?;
        sinks.threads.push((name, thread, overflowed));
    }
    // The emitting thread only hands the event on and never waits: a sink whose
    // backlog is full (its receiver down for hours on a busy farm) loses the event
    // here, counted and logged; it stays in the store.
    sinks.subscription = Some(workers::events::subscribe(move |e| {
        for (sink, tx, overflowed) in &senders {
            if let Err(mpsc::TrySendError::Full(_)) = tx.try_send(e.clone()) {
                let n = overflowed.fetch_add(1, Ordering::Relaxed) + 1;
                if n == 1 || n % 1000 == 0 {
                    tracing::warn!(sink, event = %e.id, dropped = n, backlog = BACKLOG, "event sink backlog full; event not delivered (it stays in the store)");
                }
            }
        }
    }));
    Ok(sinks)
}

/// One sink's thread: every event in order, each retried at the head of the line.
fn deliver_all(
    sink: &str,
    mut target: Box<dyn Deliver>,
    events: mpsc::Receiver<Event>,
    config: &EventsConfig,
    deadline: &Deadline,
) -> Tally {
    let mut tally = Tally::default();
    // Ends when the subscription is dropped and every queued event is handled.
    for event in events {
        if deadline.passed() {
            tally.abandoned += 1;
            continue;
        }
        let mut attempt = 1;
        loop {
            match target.deliver(&event) {
                Ok(()) => {
                    tally.delivered += 1;
                    break;
                }
                Err(f) if !f.retry || attempt >= config.attempts => {
                    tracing::warn!(sink, event = %event.id, attempts = attempt, error = %f.why, "event not delivered; it stays in the store");
                    tally.failed += 1;
                    break;
                }
                Err(f) => {
                    let wait = config.backoff(attempt).max(
                        f.after
                            .unwrap_or_default()
                            .min(Duration::from_secs(config.max_backoff_seconds)),
                    );
                    tracing::info!(sink, event = %event.id, attempt, error = %f.why, retry_in = ?wait, "event delivery failed; will retry");
                    if !deadline.sleep(wait) {
                        tally.abandoned += 1;
                        break;
                    }
                    attempt += 1;
                }
            }
        }
    }
    tally
}

impl Sinks {
    /// Whether any sink is running.
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// Stop taking events, give the sinks up to `drain_seconds` to deliver what they
    /// hold, and say what became of each sink's events.
    pub fn finish(mut self) -> Vec<SinkReport> {
        self.stop()
    }

    fn stop(&mut self) -> Vec<SinkReport> {
        // Dropping the subscription drops the senders: each thread ends after the
        // events already queued.
        self.subscription = None;
        if self.threads.is_empty() {
            return Vec::new();
        }
        self.deadline.set(Instant::now() + self.drain);
        self.threads
            .drain(..)
            .map(|(sink, t, overflowed)| {
                let mut tally = t.join().unwrap_or_else(|_| {
                    tracing::error!(sink, "event sink thread panicked");
                    Tally::default()
                });
                tally.overflowed = overflowed.load(Ordering::Relaxed);
                SinkReport { tally, sink }
            })
            .collect()
    }

    /// `finish`, then one line on stderr per sink that did not deliver everything.
    pub fn finish_and_report(self) {
        for r in self.finish() {
            let t = &r.tally;
            let lost = t.failed + t.abandoned + t.overflowed;
            if lost > 0 {
                eprintln!(
                    "events: {lost} event(s) not delivered to {} ({} refused or out of attempts, {} still queued at exit, {} over the backlog); they are in the store: vodfarm events",
                    r.sink, t.failed, t.abandoned, t.overflowed
                );
            }
        }
    }
}

impl Drop for Sinks {
    fn drop(&mut self) {
        // An early return (an error) still gets the events out, within the drain time.
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn config_is_checked() {
        let parse = |t: &str| -> EventsConfig { toml::from_str(t).unwrap() };
        assert!(parse("").check().is_ok());
        assert!(
            parse("webhooks = [\"https://h.example/x\"]\nsecret = \"k\"")
                .check()
                .is_ok()
        );
        let e = parse("webhooks = [\"https://h.example/x\"]")
            .check()
            .unwrap_err();
        assert!(e.contains("secret"), "{e}");
        let e = parse("webhooks = [\"ftp://h/x\"]\nsecret = \"k\"")
            .check()
            .unwrap_err();
        assert!(e.contains("ftp://h/x"), "{e}");
        let e = parse("queue = \"a/b\"").check().unwrap_err();
        assert!(e.contains("a/b"), "{e}");
        let e = parse("webhooks = [\"http://h/x\"]\nsecret = \"k\"\nca_file = \"/x.pem\"")
            .check()
            .unwrap_err();
        assert!(e.contains("no webhook is an https:// URL"), "{e}");
        let arn = "arn:aws:sns:eu-west-1:123456789012:vodfarm-events";
        let c = parse(&format!("sns_topic = \"{arn}\""));
        assert!(c.check().is_ok() && c.any());
        let e = parse("sns_topic = \"vodfarm-events\"").check().unwrap_err();
        assert!(e.starts_with("events.sns_topic: 'vodfarm-events'"), "{e}");
        let e = parse("sns_endpoint = \"http://127.0.0.1:5000\"")
            .check()
            .unwrap_err();
        assert!(e.contains("sns_topic"), "{e}");
        assert!(format!("{:?}", parse("secret = \"hidden\"")).contains("Secret(..)"));
        assert!(!format!("{:?}", parse("secret = \"hidden\"")).contains("hidden"));
    }

    #[test]
    fn backoff_doubles_to_its_cap() {
        let c = EventsConfig {
            backoff_ms: 500,
            max_backoff_seconds: 3,
            ..EventsConfig::default()
        };
        let waits: Vec<u128> = (1..=5).map(|a| c.backoff(a).as_millis()).collect();
        assert_eq!(waits, vec![500, 1000, 2000, 3000, 3000]);
    }
}
