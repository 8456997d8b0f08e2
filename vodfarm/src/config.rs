//! Which backends a process uses: the embedded ones (a local directory; the default)
//! or S3 and SQS. From a TOML file (`--config FILE` or `VODFARM_CONFIG`) or the same
//! text in `VODFARM_CONFIG_TOML`:
//!
//! ```toml
//! [store]
//! backend = "s3"                  # or "embedded" (with dir = "...")
//! bucket = "vodfarm"              # every key's bucket unless [store.buckets] says
//! endpoint = "http://127.0.0.1:5000"   # a local server; path-style addressing
//! region = "us-east-1"            # else the standard chain's
//! [store.buckets]                 # by the key's first part
//! origin = "vodfarm-origin"
//!
//! [queue]
//! backend = "sqs"                 # or "embedded"
//! prefix = "vodfarm-"             # queue q is <prefix>q, its DLQ <prefix>q-dlq
//! endpoint = "http://127.0.0.1:5000"
//!
//! [worker]
//! visibility_seconds = 60         # extended every third of it while a job runs
//! wait_seconds = 2                # long-poll per queue when all were empty
//!
//! [events]                        # job events to webhooks and a queue: see `crate::sinks`
//! webhooks = ["https://ops.example.com/hooks/vodfarm"]
//! secret_env = "VODFARM_WEBHOOK_SECRET"
//! ```
//!
//! Credentials always come from the standard AWS chain (environment, profile, ECS task
//! role, instance profile).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use vodfarm_aws::{S3Store, SqsQueue};
use workers::queue::{LocalQueue, Queue};
use workers::runner;
use workers::store::{LocalStore, ObjectStore};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub queue: QueueConfig,
    #[serde(default)]
    pub worker: WorkerConfig,
    /// Where job events go besides the store (`crate::sinks`).
    #[serde(default)]
    pub events: crate::sinks::EventsConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "backend", rename_all = "kebab-case", deny_unknown_fields)]
pub enum StoreConfig {
    Embedded {
        #[serde(default = "default_dir")]
        dir: PathBuf,
    },
    S3 {
        bucket: String,
        #[serde(default)]
        buckets: BTreeMap<String, String>,
        #[serde(default)]
        endpoint: Option<String>,
        #[serde(default)]
        region: Option<String>,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "backend", rename_all = "kebab-case", deny_unknown_fields)]
pub enum QueueConfig {
    /// Under the embedded store's directory (`<dir>/queues`) unless `dir` is set.
    Embedded {
        #[serde(default)]
        dir: Option<PathBuf>,
    },
    Sqs {
        #[serde(default = "default_prefix")]
        prefix: String,
        #[serde(default)]
        endpoint: Option<String>,
        #[serde(default)]
        region: Option<String>,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    #[serde(default = "default_visibility")]
    pub visibility_seconds: u64,
    #[serde(default = "default_wait")]
    pub wait_seconds: u64,
}

fn default_dir() -> PathBuf {
    PathBuf::from("./vodfarm-data")
}
fn default_prefix() -> String {
    "vodfarm-".into()
}
fn default_visibility() -> u64 {
    60
}
fn default_wait() -> u64 {
    2
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig::Embedded { dir: default_dir() }
    }
}
impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig::Embedded { dir: None }
    }
}
impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            visibility_seconds: default_visibility(),
            wait_seconds: default_wait(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {detail}")]
    Read { path: String, detail: String },
    #[error("config: {0}")]
    Invalid(String),
    /// A command that only reads a store was pointed at an embedded one that is not there.
    #[error("no store at {} (vodfarm run or vodfarm submit makes one; --store names another)", dir.display())]
    NoStore { dir: PathBuf },
}

impl ConfigError {
    /// The same error, said of the file (or variable) it was read from: the file's
    /// name takes the place of the "config:" prefix.
    fn in_file(self, path: &str) -> ConfigError {
        let detail = match self {
            ConfigError::Invalid(d) => d,
            other => other.to_string(),
        };
        ConfigError::Read {
            path: path.into(),
            detail,
        }
    }
}

/// The opened backends.
pub struct Backends {
    pub store: Arc<dyn ObjectStore>,
    pub queue: Arc<dyn Queue>,
    pub config: Config,
}

impl Config {
    /// The embedded backends in `dir`.
    pub fn embedded(dir: &Path) -> Self {
        Config {
            store: StoreConfig::Embedded {
                dir: dir.to_path_buf(),
            },
            queue: QueueConfig::Embedded { dir: None },
            worker: WorkerConfig::default(),
            events: crate::sinks::EventsConfig::default(),
        }
    }

    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let c: Config =
            toml::from_str(text).map_err(|e| ConfigError::Invalid(tomlerr::one_line(&e)))?;
        if c.worker.visibility_seconds < 3 || c.worker.visibility_seconds > 12 * 3600 {
            return Err(ConfigError::Invalid(format!(
                "worker.visibility_seconds {} is outside 3..=43200",
                c.worker.visibility_seconds
            )));
        }
        c.events.check().map_err(ConfigError::Invalid)?;
        Ok(c)
    }

    /// `--config FILE`, else the file named by `VODFARM_CONFIG`, else the TOML text in
    /// `VODFARM_CONFIG_TOML` (how a container gets it), else the embedded backends in
    /// `dir`.
    pub fn load(file: Option<&Path>, dir: &Path) -> Result<Self, ConfigError> {
        if file.is_none() && std::env::var_os("VODFARM_CONFIG").is_none() {
            if let Ok(text) = std::env::var("VODFARM_CONFIG_TOML") {
                return Self::parse(&text).map_err(|e| e.in_file("VODFARM_CONFIG_TOML"));
            }
        }
        let path = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("VODFARM_CONFIG").map(PathBuf::from));
        let Some(path) = path else {
            return Ok(Self::embedded(dir));
        };
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        Self::parse(&text).map_err(|e| e.in_file(&path.display().to_string()))
    }

    pub fn visibility(&self) -> Duration {
        Duration::from_secs(self.worker.visibility_seconds)
    }

    /// The embedded store's directory, when the store is embedded.
    pub fn embedded_dir(&self) -> Option<&Path> {
        match &self.store {
            StoreConfig::Embedded { dir } => Some(dir),
            StoreConfig::S3 { .. } => None,
        }
    }

    /// The store of commands that only read one (status, events, serve, oca fill, steer,
    /// retry): an embedded store that does not exist is an error, not a new empty store.
    pub fn open_existing_store(&self) -> Result<Arc<dyn ObjectStore>, ConfigError> {
        if let StoreConfig::Embedded { dir } = &self.store {
            if dir.exists() && !dir.is_dir() {
                return Err(ConfigError::Invalid(format!(
                    "store {} is not a directory",
                    dir.display()
                )));
            }
            if !dir.is_dir() {
                return Err(ConfigError::NoStore { dir: dir.clone() });
            }
        }
        self.open_store()
    }

    /// The store alone (commands that queue nothing: place).
    pub fn open_store(&self) -> Result<Arc<dyn ObjectStore>, ConfigError> {
        let (store, backend): (Arc<dyn ObjectStore>, _) = match &self.store {
            StoreConfig::Embedded { dir } => (
                Arc::new(LocalStore::open(dir).map_err(|e| ConfigError::Invalid(e.to_string()))?),
                "embedded",
            ),
            StoreConfig::S3 {
                bucket,
                buckets,
                endpoint,
                region,
            } => (
                Arc::new(S3Store::new(
                    bucket,
                    buckets.clone(),
                    endpoint.as_deref(),
                    region.as_deref(),
                )),
                "s3",
            ),
        };
        Ok(Arc::new(workers::metered::Metered::new(store, backend)))
    }

    pub fn open(&self) -> Result<Backends, ConfigError> {
        let store = self.open_store()?;
        let queue: Arc<dyn Queue> = match &self.queue {
            QueueConfig::Embedded { dir } => {
                let dir = match (dir, &self.store) {
                    (Some(d), _) => d.clone(),
                    (None, StoreConfig::Embedded { dir }) => dir.join("queues"),
                    (None, StoreConfig::S3 { .. }) => {
                        return Err(ConfigError::Invalid(
                            "an embedded queue with an S3 store needs queue.dir".into(),
                        ))
                    }
                };
                Arc::new(
                    LocalQueue::open(&dir, runner::MAX_RECEIVES)
                        .map_err(|e| ConfigError::Invalid(e.to_string()))?,
                )
            }
            QueueConfig::Sqs {
                prefix,
                endpoint,
                region,
            } => Arc::new(SqsQueue::new(
                prefix,
                endpoint.as_deref(),
                region.as_deref(),
            )),
        };
        Ok(Backends {
            store,
            queue,
            config: self.clone(),
        })
    }

    /// Create what the backends need (buckets, queues with dead-letter queues, the
    /// events' SNS topic) where missing; for local servers and first runs.
    pub fn init(&self) -> Result<(), ConfigError> {
        let bad = |e: String| ConfigError::Invalid(e);
        if let StoreConfig::S3 {
            bucket,
            buckets,
            endpoint,
            region,
        } = &self.store
        {
            S3Store::new(
                bucket,
                buckets.clone(),
                endpoint.as_deref(),
                region.as_deref(),
            )
            .create_buckets()
            .map_err(|e| bad(e.to_string()))?;
        }
        if let QueueConfig::Sqs {
            prefix,
            endpoint,
            region,
        } = &self.queue
        {
            let q = SqsQueue::new(prefix, endpoint.as_deref(), region.as_deref());
            for name in runner::QUEUES
                .iter()
                .copied()
                .chain(self.events.queue.as_deref())
            {
                q.create(name, runner::MAX_RECEIVES, self.visibility())
                    .map_err(|e| bad(e.to_string()))?;
            }
        }
        if let Some(arn) = &self.events.sns_topic {
            vodfarm_aws::SnsTopic::new(
                arn,
                self.events.sns_endpoint.as_deref(),
                std::time::Duration::from_secs(self.events.timeout_seconds),
            )
            .map_err(|e| e.to_string())
            .and_then(|t| t.ensure().map_err(|e| e.to_string()))
            .map_err(|e| bad(format!("events.sns_topic: {e}")))?;
        }
        self.open().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let c = Config::parse(
            "[store]\nbackend = \"s3\"\nbucket = \"b\"\n[store.buckets]\norigin = \"o\"\n[queue]\nbackend = \"sqs\"\n",
        )
        .unwrap();
        assert!(matches!(c.store, StoreConfig::S3 { ref bucket, .. } if bucket == "b"));
        assert!(matches!(c.queue, QueueConfig::Sqs { ref prefix, .. } if prefix == "vodfarm-"));
        assert!(Config::parse("[store]\nbackend = \"gcs\"\n").is_err());
        assert!(Config::parse("[worker]\nvisibility_seconds = 1\n").is_err());
        assert!(Config::parse("").unwrap().embedded_dir().is_some());
        // The reason survives, with where it is.
        let e = Config::parse("[worker]\nvisibility_seconds = \"soon\"\n").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("line 2, column 22"), "{text}");
        assert!(text.contains("invalid type"), "{text}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Whatever a config file holds, parsing gives a config or a one-line error,
        /// never a panic; an accepted one keeps its visibility within bounds.
        #[test]
        fn any_text_is_a_config_or_an_error(text in "(?s).{0,300}") {
            match Config::parse(&text) {
                Ok(c) => proptest::prop_assert!((3..=43200).contains(&c.worker.visibility_seconds)),
                Err(e) => proptest::prop_assert!(!e.to_string().contains('\n')),
            }
        }

        /// The template's worker config with one line's value replaced.
        #[test]
        fn mutated_configs_are_configs_or_errors(line in 0usize..12, value in r#"[-a-z0-9".={}\[\] ]{0,12}"#) {
            let good = "[store]\nbackend = \"s3\"\nbucket = \"b\"\nendpoint = \"http://127.0.0.1:9\"\n[store.buckets]\norigin = \"o\"\n[queue]\nbackend = \"sqs\"\nprefix = \"p-\"\n[worker]\nvisibility_seconds = 60\nwait_seconds = 2\n";
            let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
            let i = line % lines.len();
            lines[i] = match lines[i].split_once(" = ") {
                Some((k, _)) => format!("{k} = {value}"),
                None => value.clone(),
            };
            let _ = Config::parse(&lines.join("\n"));
        }
    }
}
