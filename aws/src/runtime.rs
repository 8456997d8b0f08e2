//! What the S3, SQS and SNS clients share: one tokio runtime per process (the stages are
//! synchronous, so each call blocks on the SDK's future) and the SDK configuration:
//! the standard credential and region chain, with an optional endpoint override for
//! local servers (moto, s3s-fs), where S3 then uses path-style addressing.

use std::future::Future;
use std::sync::OnceLock;

use aws_config::BehaviorVersion;

/// Block on `f` on the process's AWS runtime. Safe from any thread that is not itself
/// driving a tokio task (`spawn_blocking` threads are fine).
pub fn block_on<F: Future>(f: F) -> F::Output {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("vodfarm-aws")
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
    .block_on(f)
}

/// SDK configuration from the standard chain, with `endpoint` and `region` when set.
pub fn sdk_config(endpoint: Option<&str>, region: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
    }
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    block_on(loader.load())
}

/// One line from an SDK error (S3's, SQS's or SNS's: the SDKs share the type): the HTTP
/// status, the service's code and message when there is one, else the error chain
/// (connection refused, timeouts).
pub fn describe<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    if let Some(s) = e.as_service_error() {
        let status = e
            .raw_response()
            .map(|r| format!("HTTP {}", r.status().as_u16()))
            .unwrap_or_default();
        return match (s.code(), s.message()) {
            (Some(c), Some(m)) => format!("{status} {c}: {m}"),
            (Some(c), None) => format!("{status} {c}"),
            _ => format!("{status} {s:?}"),
        };
    }
    let mut out = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

/// The HTTP status of a failed call, if it got that far.
pub fn status<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}
