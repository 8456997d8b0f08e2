//! The SQS backend of [`Queue`] (aws-sdk-sqs). Queue `q` is the SQS queue
//! `<prefix><q>`; its dead-letter queue `<prefix><q>-dlq` is attached with a redrive
//! policy (after `max_receives` receives SQS moves a message there itself). Receives
//! long-poll, ask for the receive count, and return the message id so that claims can
//! tell a redelivery from another message.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;

use crate::runtime::{block_on, describe};
use workers::queue::{Peeked, Queue, QueueError, Received};

pub struct SqsQueue {
    client: Client,
    prefix: String,
    urls: Mutex<HashMap<String, String>>,
}

fn err(queue: &str, detail: String) -> QueueError {
    QueueError::Io {
        queue: queue.to_string(),
        detail,
    }
}

impl SqsQueue {
    pub fn new(prefix: &str, endpoint: Option<&str>, region: Option<&str>) -> Self {
        let sdk = crate::runtime::sdk_config(endpoint, region);
        Self {
            client: Client::new(&sdk),
            prefix: prefix.to_string(),
            urls: Mutex::new(HashMap::new()),
        }
    }

    fn url(&self, queue: &str) -> Result<String, QueueError> {
        if let Some(u) = self.urls.lock().expect("not poisoned").get(queue) {
            return Ok(u.clone());
        }
        let name = format!("{}{queue}", self.prefix);
        let u = block_on(self.client.get_queue_url().queue_name(&name).send())
            .map_err(|e| err(queue, format!("queue {name}: {}", describe(&e))))?
            .queue_url()
            .unwrap_or_default()
            .to_string();
        self.urls
            .lock()
            .expect("not poisoned")
            .insert(queue.to_string(), u.clone());
        Ok(u)
    }

    /// Create `queue` and its dead-letter queue with a redrive policy, if missing
    /// (local servers and first runs; on AWS the CloudFormation stack makes them).
    pub fn create(
        &self,
        queue: &str,
        max_receives: u32,
        visibility: Duration,
    ) -> Result<(), QueueError> {
        let dlq_name = format!("{}{queue}-dlq", self.prefix);
        let dlq_url = block_on(self.client.create_queue().queue_name(&dlq_name).send())
            .map_err(|e| err(queue, describe(&e)))?
            .queue_url()
            .unwrap_or_default()
            .to_string();
        let arn = block_on(
            self.client
                .get_queue_attributes()
                .queue_url(&dlq_url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send(),
        )
        .map_err(|e| err(queue, describe(&e)))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or_else(|| err(queue, "dead-letter queue has no ARN".into()))?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": arn,
            "maxReceiveCount": max_receives.to_string(),
        })
        .to_string();
        block_on(
            self.client
                .create_queue()
                .queue_name(format!("{}{queue}", self.prefix))
                .attributes(QueueAttributeName::RedrivePolicy, redrive)
                .attributes(
                    QueueAttributeName::VisibilityTimeout,
                    visibility.as_secs().to_string(),
                )
                .send(),
        )
        .map_err(|e| err(queue, describe(&e)))?;
        Ok(())
    }

    fn attribute(&self, queue: &str, name: QueueAttributeName) -> Result<usize, QueueError> {
        let url = self.url(queue)?;
        let out = block_on(
            self.client
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(name.clone())
                .send(),
        )
        .map_err(|e| err(queue, describe(&e)))?;
        Ok(out
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }
}

impl Queue for SqsQueue {
    fn send(&self, queue: &str, body: &str) -> Result<(), QueueError> {
        let url = self.url(queue)?;
        block_on(
            self.client
                .send_message()
                .queue_url(url)
                .message_body(body)
                .send(),
        )
        .map_err(|e| err(queue, describe(&e)))?;
        Ok(())
    }

    fn receive(
        &self,
        queue: &str,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Option<Received>, QueueError> {
        let url = self.url(queue)?;
        let out = block_on(
            self.client
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(1)
                .visibility_timeout(visibility.as_secs().max(1) as i32)
                // SQS long-polls for at most 20 s.
                .wait_time_seconds(wait.as_secs().min(20) as i32)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send(),
        )
        .map_err(|e| err(queue, describe(&e)))?;
        let Some(m) = out.messages().first() else {
            return Ok(None);
        };
        Ok(Some(Received {
            body: m.body().unwrap_or_default().to_string(),
            receive_count: m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1),
            receipt: m.receipt_handle().unwrap_or_default().to_string(),
            id: m.message_id().unwrap_or_default().to_string(),
        }))
    }

    fn delete(&self, queue: &str, receipt: &str) -> Result<(), QueueError> {
        let url = self.url(queue)?;
        block_on(
            self.client
                .delete_message()
                .queue_url(url)
                .receipt_handle(receipt)
                .send(),
        )
        .map_err(|e| err(queue, describe(&e)))?;
        Ok(())
    }

    fn extend(&self, queue: &str, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        let url = self.url(queue)?;
        block_on(
            self.client
                .change_message_visibility()
                .queue_url(url)
                .receipt_handle(receipt)
                .visibility_timeout(visibility.as_secs() as i32)
                .send(),
        )
        .map_err(|e| match e.as_service_error() {
            Some(_) => QueueError::ReceiptExpired {
                queue: queue.into(),
                receipt: receipt.chars().take(16).collect(),
            },
            None => err(queue, describe(&e)),
        })?;
        Ok(())
    }

    fn depth(&self, queue: &str) -> Result<usize, QueueError> {
        self.attribute(queue, QueueAttributeName::ApproximateNumberOfMessages)
    }

    fn peek(&self, queue: &str, max: usize) -> Result<Vec<Peeked>, QueueError> {
        let url = self.url(queue)?;
        // A receive with visibility 0 leaves every message visible; SQS answers with at
        // most 10 and samples its servers, so a short queue may need more than one call.
        let mut out: Vec<Peeked> = Vec::new();
        for _ in 0..max.div_ceil(10).max(1) * 2 {
            let got = block_on(
                self.client
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(max.clamp(1, 10) as i32)
                    .visibility_timeout(0)
                    .message_system_attribute_names(
                        MessageSystemAttributeName::ApproximateReceiveCount,
                    )
                    .send(),
            )
            .map_err(|e| err(queue, describe(&e)))?;
            if got.messages().is_empty() {
                break;
            }
            for m in got.messages() {
                let id = m.message_id().unwrap_or_default().to_string();
                if out.len() < max && !out.iter().any(|p| p.id == id) {
                    out.push(Peeked {
                        id,
                        body: m.body().unwrap_or_default().to_string(),
                        receive_count: m
                            .attributes()
                            .and_then(|a| {
                                a.get(&MessageSystemAttributeName::ApproximateReceiveCount)
                            })
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(1),
                    });
                }
            }
            if out.len() >= max {
                break;
            }
        }
        Ok(out)
    }

    fn in_flight(&self, queue: &str) -> Result<usize, QueueError> {
        self.attribute(
            queue,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        )
    }
}
