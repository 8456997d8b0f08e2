//! The S3 backend of [`ObjectStore`] (aws-sdk-s3). Keys are the same as in the
//! embedded store; the first part of a key (`ingest`, `work`, `origin`, `control`)
//! picks the bucket, so a deployment can give each its own lifecycle and access rules,
//! or use one bucket for all. Large uploads are multipart and downloads are streamed,
//! so memory does not grow with the object; markers and claims are conditional
//! creates (`If-None-Match: *`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;

use crate::runtime::{block_on, describe, status};
use workers::store::{ObjectStore, StoreError};

/// Objects above this size are uploaded in parts of this size.
pub const PART_BYTES: u64 = 8 * 1024 * 1024;

pub struct S3Store {
    client: Client,
    default_bucket: String,
    /// Top-level key part -> bucket, for those not in the default bucket.
    buckets: BTreeMap<String, String>,
}

/// A failure with no HTTP answer (a broken stream): transient.
fn remote(what: &'static str, key: &str, detail: String) -> StoreError {
    StoreError::Remote {
        what,
        key: key.to_string(),
        status: None,
        detail,
    }
}

/// An SDK call that failed: keeps the HTTP status, which decides whether it is retried.
fn sdk<E>(
    what: &'static str,
    key: &str,
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> StoreError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    StoreError::Remote {
        what,
        key: key.to_string(),
        status: status(e),
        detail: describe(e),
    }
}

impl S3Store {
    /// `endpoint`: a local server (path-style addressing); None for AWS itself.
    pub fn new(
        default_bucket: &str,
        buckets: BTreeMap<String, String>,
        endpoint: Option<&str>,
        region: Option<&str>,
    ) -> Self {
        let sdk = crate::runtime::sdk_config(endpoint, region);
        // Checksums only where S3 requires them: the SDK's default adds CRC trailers
        // to every upload, which S3-compatible servers do not all accept.
        let conf = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(endpoint.is_some())
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
            )
            .build();
        Self {
            client: Client::from_conf(conf),
            default_bucket: default_bucket.to_string(),
            buckets,
        }
    }

    fn bucket(&self, key: &str) -> &str {
        let top = key.split('/').next().unwrap_or_default();
        self.buckets
            .get(top)
            .map(String::as_str)
            .unwrap_or(&self.default_bucket)
    }

    /// Every bucket this store uses.
    pub fn all_buckets(&self) -> Vec<String> {
        let mut b: Vec<String> = self.buckets.values().cloned().collect();
        b.push(self.default_bucket.clone());
        b.sort();
        b.dedup();
        b
    }

    /// Create the buckets that do not exist yet (local servers and first runs; on AWS
    /// the CloudFormation stack makes them).
    pub fn create_buckets(&self) -> Result<(), StoreError> {
        for b in self.all_buckets() {
            let r = block_on(self.client.create_bucket().bucket(&b).send());
            if let Err(e) = r {
                let code = e
                    .as_service_error()
                    .and_then(|s| aws_sdk_s3::error::ProvideErrorMetadata::code(s))
                    .unwrap_or_default()
                    .to_string();
                if code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
                    return Err(sdk("create bucket", &b, &e));
                }
            }
        }
        Ok(())
    }

    async fn multipart(&self, key: &str, path: &Path, size: u64) -> Result<(), StoreError> {
        let bucket = self.bucket(key);
        let up = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk("put", key, &e))?;
        let id = up.upload_id().unwrap_or_default().to_string();
        let result = async {
            let mut parts = Vec::new();
            let mut offset = 0;
            let mut n = 1;
            while offset < size {
                let len = PART_BYTES.min(size - offset);
                // Each part streams from the file: one part in flight, never in memory whole.
                let body = ByteStream::read_from()
                    .path(path)
                    .offset(offset)
                    .length(Length::Exact(len))
                    .build()
                    .await
                    .map_err(|e| remote("put", key, e.to_string()))?;
                let part = self
                    .client
                    .upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&id)
                    .part_number(n)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| sdk("put", key, &e))?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(n)
                        .set_e_tag(part.e_tag().map(str::to_string))
                        .build(),
                );
                offset += len;
                n += 1;
            }
            self.client
                .complete_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| sdk("put", key, &e))?;
            Ok(())
        }
        .await;
        if result.is_err() {
            // Leave no parts behind to be billed.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&id)
                .send()
                .await;
        }
        result
    }

    async fn get_object(
        &self,
        what: &'static str,
        key: &str,
        range: Option<String>,
    ) -> Result<Option<ByteStream>, StoreError> {
        match self
            .client
            .get_object()
            .bucket(self.bucket(key))
            .key(key)
            .set_range(range)
            .send()
            .await
        {
            Ok(o) => Ok(Some(o.body)),
            Err(e) if status(&e) == Some(404) => Err(StoreError::NotFound {
                key: key.to_string(),
            }),
            // A range that starts at the end: nothing left to read.
            Err(e) if status(&e) == Some(416) => Ok(None),
            Err(e) => Err(sdk(what, key, &e)),
        }
    }
}

/// A streamed object body read synchronously, one network chunk at a time.
struct BodyReader {
    body: Option<ByteStream>,
    /// The last chunk and how much of it was read.
    data: Vec<u8>,
    at: usize,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.data.len() {
            let Some(body) = self.body.as_mut() else {
                return Ok(0);
            };
            match block_on(body.next()) {
                Some(Ok(b)) => {
                    self.data.clear();
                    self.data.extend_from_slice(&b);
                    self.at = 0;
                }
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => {
                    self.body = None;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl ObjectStore for S3Store {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        block_on(
            self.client
                .put_object()
                .bucket(self.bucket(key))
                .key(key)
                .body(ByteStream::from(bytes.to_vec()))
                .send(),
        )
        .map_err(|e| sdk("put", key, &e))?;
        Ok(())
    }

    fn put_file(&self, key: &str, path: &Path) -> Result<(), StoreError> {
        let size = std::fs::metadata(path)
            .map_err(|source| StoreError::Io {
                what: "put",
                key: key.to_string(),
                source,
            })?
            .len();
        if size > PART_BYTES {
            return block_on(self.multipart(key, path, size));
        }
        block_on(async {
            let body = ByteStream::from_path(path)
                .await
                .map_err(|e| remote("put", key, e.to_string()))?;
            self.client
                .put_object()
                .bucket(self.bucket(key))
                .key(key)
                .body(body)
                .send()
                .await
                .map_err(|e| sdk("put", key, &e))
        })?;
        Ok(())
    }

    fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::new();
        self.read_from(key, 0)?
            .read_to_end(&mut out)
            .map_err(|e| remote("get", key, e.to_string()))?;
        Ok(out)
    }

    fn get_to_file(&self, key: &str, path: &Path) -> Result<(), StoreError> {
        let mut src = self.read_from(key, 0)?;
        let io = |source| StoreError::Io {
            what: "get",
            key: key.to_string(),
            source,
        };
        let mut f = std::fs::File::create(path).map_err(io)?;
        std::io::copy(&mut src, &mut f).map_err(io)?;
        f.flush().map_err(io)?;
        Ok(())
    }

    fn read_from(&self, key: &str, offset: u64) -> Result<Box<dyn Read + Send>, StoreError> {
        let range = (offset > 0).then(|| format!("bytes={offset}-"));
        let body = block_on(self.get_object("get", key, range))?;
        Ok(Box::new(BodyReader {
            body,
            data: Vec::new(),
            at: 0,
        }))
    }

    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match block_on(
            self.client
                .head_object()
                .bucket(self.bucket(key))
                .key(key)
                .send(),
        ) {
            Ok(_) => Ok(true),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) => Err(sdk("head", key, &e)),
        }
    }

    fn create_if_absent(&self, key: &str, bytes: &[u8]) -> Result<bool, StoreError> {
        match block_on(
            self.client
                .put_object()
                .bucket(self.bucket(key))
                .key(key)
                .if_none_match("*")
                .body(ByteStream::from(bytes.to_vec()))
                .send(),
        ) {
            Ok(_) => Ok(true),
            // 412: it exists. (409 is a concurrent conditional write: an error, retried.)
            Err(e) if status(&e) == Some(412) => Ok(false),
            Err(e) => Err(sdk("create", key, &e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = block_on(
                self.client
                    .list_objects_v2()
                    .bucket(self.bucket(prefix))
                    .prefix(prefix)
                    .set_continuation_token(token)
                    .send(),
            )
            .map_err(|e| sdk("list", prefix, &e))?;
            out.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        out.sort();
        Ok(out)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        block_on(
            self.client
                .delete_object()
                .bucket(self.bucket(key))
                .key(key)
                .send(),
        )
        .map_err(|e| sdk("delete", key, &e))?;
        Ok(())
    }
}
