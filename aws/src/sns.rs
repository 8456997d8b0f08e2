//! An SNS topic that job events are published to (aws-sdk-sns): each event's JSON is
//! one message, with the event's kind and title as message attributes, so that a
//! subscription's filter policy can pick the kinds it wants (only `failed`, say). The
//! topic is named by its ARN; the region comes from the ARN, and an endpoint override
//! serves local servers (moto).

use std::time::Duration;

use aws_sdk_sns::config::http::HttpResponse;
use aws_sdk_sns::config::timeout::TimeoutConfig;
use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;

use crate::runtime::{block_on, describe};

/// Whether trying a failed call again may help: no answer (the connection, a timeout),
/// a response that could not be read, throttling, 5xx, 408 and 429. A request that
/// could not be built, and the service's other refusals (no such topic, no
/// permission), come back the same.
fn transient<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(d) => d.is_io() || d.is_timeout(),
        SdkError::ServiceError(s) => {
            let code = s.raw().status().as_u16();
            s.err().code().is_some_and(|c| c.contains("Throttl"))
                || code >= 500
                || code == 408
                || code == 429
        }
        _ => false,
    }
}

/// Why a publish failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishError {
    /// Throttling, a 5xx answer, or no answer at all (connection, timeout).
    pub transient: bool,
    /// One line: the HTTP status and the service's code and message, or the error chain.
    pub detail: String,
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for PublishError {}

/// The parts of a topic ARN, `arn:<partition>:sns:<region>:<account>:<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicArn {
    pub region: String,
    pub account: String,
    pub name: String,
}

/// A configured topic that is not an SNS topic ARN: the value and which part is wrong.
#[derive(Debug, thiserror::Error)]
#[error("'{arn}' is not an SNS topic ARN ({why}): expected arn:aws:sns:REGION:ACCOUNT:NAME")]
pub struct BadTopicArn {
    pub arn: String,
    pub why: &'static str,
}

impl TopicArn {
    /// Parse `arn`; the error says what is wrong in one line.
    pub fn parse(arn: &str) -> Result<Self, BadTopicArn> {
        let bad = |why: &'static str| BadTopicArn {
            arn: arn.to_string(),
            why,
        };
        let parts: Vec<&str> = arn.split(':').collect();
        let [prefix, partition, service, region, account, name] = parts[..] else {
            return Err(bad("six fields separated by ':'"));
        };
        if prefix != "arn" || partition.is_empty() || service != "sns" {
            return Err(bad("arn:<partition>:sns"));
        }
        let ok_region = !region.is_empty()
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok_region {
            return Err(bad("region"));
        }
        if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("account: 12 digits"));
        }
        // SNS's own rule for topic names (a FIFO topic ends in .fifo).
        let stem = name.strip_suffix(".fifo").unwrap_or(name);
        let ok_name = (1..=256).contains(&name.len())
            && !stem.is_empty()
            && stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok_name {
            return Err(bad("name: 1-256 of a-z, A-Z, 0-9, '-' and '_'"));
        }
        Ok(Self {
            region: region.to_string(),
            account: account.to_string(),
            name: name.to_string(),
        })
    }
}

pub struct SnsTopic {
    client: Client,
    arn: String,
    fifo: bool,
}

impl SnsTopic {
    /// The topic `arn` (checked), reached in its own region or at `endpoint`; one
    /// attempt of a call may take `timeout` (a hung connection must not hold a sink's
    /// thread past the process's drain time).
    pub fn new(arn: &str, endpoint: Option<&str>, timeout: Duration) -> Result<Self, BadTopicArn> {
        let parsed = TopicArn::parse(arn)?;
        let sdk = crate::runtime::sdk_config(endpoint, Some(&parsed.region));
        let config = aws_sdk_sns::config::Builder::from(&sdk)
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(timeout)
                    .build(),
            )
            .build();
        Ok(Self {
            client: Client::from_conf(config),
            arn: arn.to_string(),
            fifo: parsed.name.ends_with(".fifo"),
        })
    }

    /// Make the topic if it does not exist (local servers and first runs; `vodfarm
    /// init`). A topic that exists is left as it is (it may be another account's, or
    /// made by other tooling: only `sns:GetTopicAttributes` is needed then). A new one
    /// must get the ARN the config names: a server that would name it otherwise (the
    /// credentials are another account's, say) is an error, and that topic is left.
    pub fn ensure(&self) -> Result<(), PublishError> {
        let get = block_on(
            self.client
                .get_topic_attributes()
                .topic_arn(&self.arn)
                .send(),
        );
        match get {
            Ok(_) => return Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) => {}
            Err(e) => {
                return Err(PublishError {
                    transient: transient(&e),
                    detail: format!("topic {}: {}", self.arn, describe(&e)),
                })
            }
        }
        let name = TopicArn::parse(&self.arn)
            .map(|a| a.name)
            .unwrap_or_default();
        let mut req = self.client.create_topic().name(&name);
        if self.fifo {
            req = req.attributes("FifoTopic", "true");
        }
        let out = block_on(req.send()).map_err(|e| PublishError {
            transient: transient(&e),
            detail: format!("creating topic {name}: {}", describe(&e)),
        })?;
        let made = out.topic_arn().unwrap_or_default();
        if made != self.arn {
            return Err(PublishError {
                transient: false,
                detail: format!("topic {}: the server made it as {made}", self.arn),
            });
        }
        Ok(())
    }

    /// Publish `body` with string attributes (`kind`, `title`); `group` is the message
    /// group of a FIFO topic (ignored otherwise) and `dedup` its deduplication id.
    /// Returns SNS's message id.
    pub fn publish(
        &self,
        body: &str,
        attributes: &[(&str, &str)],
        group: &str,
        dedup: &str,
    ) -> Result<String, PublishError> {
        let mut req = self.client.publish().topic_arn(&self.arn).message(body);
        for (k, v) in attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(*v)
                .build()
                .map_err(|e| PublishError {
                    transient: false,
                    detail: format!("message attribute {k}: {e}"),
                })?;
            req = req.message_attributes(*k, value);
        }
        if self.fifo {
            req = req.message_group_id(group).message_deduplication_id(dedup);
        }
        match block_on(req.send()) {
            Ok(out) => Ok(out.message_id().unwrap_or_default().to_string()),
            Err(e) => Err(PublishError {
                transient: transient(&e),
                detail: format!("topic {}: {}", self.arn, describe(&e)),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_arns_are_checked() {
        let a = TopicArn::parse("arn:aws:sns:eu-west-1:123456789012:vodfarm-events").unwrap();
        assert_eq!(
            (a.region.as_str(), a.account.as_str(), a.name.as_str()),
            ("eu-west-1", "123456789012", "vodfarm-events")
        );
        assert!(TopicArn::parse("arn:aws-cn:sns:cn-north-1:123456789012:t.fifo").is_ok());
        for bad in [
            "vodfarm-events",
            "arn:aws:sqs:eu-west-1:123456789012:q",
            "arn:aws:sns:eu-west-1:1234:t",
            "arn:aws:sns::123456789012:t",
            "arn:aws:sns:eu-west-1:123456789012:",
            "arn:aws:sns:eu-west-1:123456789012:a b",
            "arn:aws:sns:eu-west-1:123456789012:t:extra",
            "arn:aws:sns:eu-west-1:123456789012:.fifo",
        ] {
            let e = TopicArn::parse(bad).unwrap_err();
            assert_eq!(e.arn, bad);
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
