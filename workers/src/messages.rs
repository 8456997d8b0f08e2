//! Message schemas. Every message carries a version; an unknown version or a malformed
//! body is refused (and dead-lettered by the worker), never guessed at.

use serde::{Deserialize, Serialize};

use crate::TitleId;

pub const VERSION: u32 = 1;

pub const QUEUE_INGEST: &str = "ingest";
pub const QUEUE_ENCODE: &str = "encode";
pub const QUEUE_PACKAGE: &str = "package";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Job {
    Ingest {
        title: TitleId,
    },
    Encode {
        title: TitleId,
        chunk: u32,
    },
    Audio {
        title: TitleId,
    },
    Package {
        title: TitleId,
    },
    /// Re-plan placement after `title` published.
    Place {
        title: TitleId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub v: u32,
    #[serde(flatten)]
    pub job: Job,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MessageError {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("message version {found} is not supported (this worker speaks {VERSION})")]
    Version { found: u32 },
}

impl Message {
    pub fn new(job: Job) -> Self {
        Self { v: VERSION, job }
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("serialisable")
    }

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

    pub fn queue(&self) -> &'static str {
        match self.job {
            Job::Ingest { .. } => QUEUE_INGEST,
            Job::Encode { .. } | Job::Audio { .. } => QUEUE_ENCODE,
            Job::Package { .. } | Job::Place { .. } => QUEUE_PACKAGE,
        }
    }

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
}
