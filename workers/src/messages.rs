//! Message schemas. Every message carries a version; an unknown version or a malformed
//! body is refused (and dead-lettered by the worker), never guessed at.

use serde::{Deserialize, Serialize};

use crate::TitleId;

/// The message schema version this worker writes and accepts.
pub const VERSION: u32 = 1;

/// The queue of ingest jobs.
pub const QUEUE_INGEST: &str = "ingest";
/// The queue of encode and audio jobs.
pub const QUEUE_ENCODE: &str = "encode";
/// The queue of package and place jobs.
pub const QUEUE_PACKAGE: &str = "package";

/// What a message asks a worker to do; the JSON's `stage` names the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Job {
    /// Probe the title's master, plan it and split it into chunks.
    Ingest {
        /// The title to ingest.
        title: TitleId,
    },
    /// Encode one chunk at every rung of the plan.
    Encode {
        /// The title the chunk belongs to.
        title: TitleId,
        /// The chunk's index in the plan.
        chunk: u32,
    },
    /// Encode the title's whole audio track, stored cut at chunk boundaries.
    Audio {
        /// The title whose audio to encode.
        title: TitleId,
    },
    /// Package and publish the title, once every part is encoded.
    Package {
        /// The title to package.
        title: TitleId,
    },
    /// Re-plan placement after `title` published.
    Place {
        /// The title just published.
        title: TitleId,
    },
}

/// A queued message: the schema version and the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Schema version; [`VERSION`] when written by this worker.
    pub v: u32,
    /// The job, its fields flattened into the message's JSON.
    #[serde(flatten)]
    pub job: Job,
}

/// Why a message body was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MessageError {
    /// Not JSON, no version, or not a job this worker knows.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A schema version other than [`VERSION`].
    #[error("message version {found} is not supported (this worker speaks {VERSION})")]
    Version {
        /// The version the message carries.
        found: u32,
    },
}

impl Message {
    /// A message for `job` at the current version.
    pub fn new(job: Job) -> Self {
        Self { v: VERSION, job }
    }

    /// The message as the JSON body sent on a queue.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("serialisable")
    }

    /// Parse a message body; refuses malformed JSON and any other version.
    pub fn decode(body: &str) -> Result<Self, MessageError> {
        let v: serde_json::Value =
            serde_json::from_str(body).map_err(|e| MessageError::Malformed(e.to_string()))?;
        let found = v
            .get("v")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| MessageError::Malformed("no version".into()))?;
        if found != VERSION as u64 {
            return Err(MessageError::Version {
                found: found as u32,
            });
        }
        serde_json::from_value(v).map_err(|e| MessageError::Malformed(e.to_string()))
    }

    /// The queue the message's job is served from.
    pub fn queue(&self) -> &'static str {
        match self.job {
            Job::Ingest { .. } => QUEUE_INGEST,
            Job::Encode { .. } | Job::Audio { .. } => QUEUE_ENCODE,
            Job::Package { .. } | Job::Place { .. } => QUEUE_PACKAGE,
        }
    }

    /// The job's stage, as its JSON names it (`encode`): the metrics' label.
    pub fn stage(&self) -> &'static str {
        match self.job {
            Job::Ingest { .. } => "ingest",
            Job::Encode { .. } => "encode",
            Job::Audio { .. } => "audio",
            Job::Package { .. } => "package",
            Job::Place { .. } => "place",
        }
    }

    /// The title the job is for.
    pub fn title(&self) -> &TitleId {
        match &self.job {
            Job::Ingest { title }
            | Job::Encode { title, .. }
            | Job::Audio { title }
            | Job::Package { title }
            | Job::Place { title } => title,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let m = Message::new(Job::Encode {
            title: TitleId::parse("t1").unwrap(),
            chunk: 3,
        });
        assert_eq!(Message::decode(&m.encode()).unwrap(), m);
        assert_eq!(
            Message::decode(r#"{"v":2,"stage":"ingest","title":"t"}"#).unwrap_err(),
            MessageError::Version { found: 2 }
        );
        assert!(Message::decode("not json").is_err());
        assert!(Message::decode(r#"{"v":1,"stage":"ingest","title":"../etc"}"#).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Whatever a queue hands over, decoding gives a message or an error, never a
        /// panic; a message that decodes has a valid title and encodes back to itself.
        #[test]
        fn any_body_is_a_message_or_an_error(body in ".{0,200}") {
            if let Ok(m) = Message::decode(&body) {
                proptest::prop_assert_eq!(Message::decode(&m.encode()).unwrap(), m);
            }
        }

        /// Valid messages with one character changed, dropped or repeated.
        #[test]
        fn mutated_messages_are_messages_or_errors(
            chunk in 0u32..1000,
            at in 0usize..80,
            with in proptest::char::any(),
            how in 0u8..3,
        ) {
            let m = Message::new(Job::Encode { title: TitleId::parse("t1").unwrap(), chunk });
            let mut chars: Vec<char> = m.encode().chars().collect();
            let i = at % chars.len();
            match how {
                0 => chars[i] = with,
                1 => { chars.remove(i); }
                _ => chars.insert(i, chars[i]),
            }
            let body: String = chars.into_iter().collect();
            if let Ok(m) = Message::decode(&body) {
                proptest::prop_assert!(TitleId::parse(m.title().as_str()).is_ok());
            }
        }
    }
}
