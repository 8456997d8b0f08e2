//! Who may act. Reading needs nothing; actions need `Authorization: Bearer <token>`
//! matching the console's token (`--token` or `VODFARM_TOKEN`), and come from the
//! console's own pages or from a program, never from another site's page.

use axum::http::{header, HeaderMap, StatusCode};
use sha2::{Digest, Sha256};

/// Why an action was refused; each maps to its HTTP status.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Denied {
    /// No bearer token in the request (401).
    #[error("this action needs a bearer token (Authorization: Bearer ...)")]
    NoToken,
    /// A token that is not the console's (403).
    #[error("the bearer token is not valid")]
    WrongToken,
    /// The console was started without a token: read-only (403).
    #[error("actions are disabled: start `vodfarm serve` with --token or VODFARM_TOKEN")]
    ReadOnly,
    /// The request came from a page on another site (403).
    #[error("cross-site request refused (origin {0})")]
    CrossSite(String),
}

impl Denied {
    /// The HTTP status it is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Denied::NoToken => StatusCode::UNAUTHORIZED,
            _ => StatusCode::FORBIDDEN,
        }
    }
}

/// Equal without revealing, by timing, how much of a guess was right: the digests
/// have the same length whatever the inputs, and every byte is compared.
fn same(a: &str, b: &str) -> bool {
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// Whether the request may act, given the console's token.
pub fn check(token: Option<&str>, headers: &HeaderMap) -> Result<(), Denied> {
    // Browsers say where a request comes from; a program sends neither header.
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" && site != "none" {
            return Err(Denied::CrossSite(site.to_string()));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
        if origin_host != host {
            return Err(Denied::CrossSite(origin.to_string()));
        }
    }
    // A read-only console says so whatever was sent: no token would help.
    let Some(want) = token.map(str::trim) else {
        return Err(Denied::ReadOnly);
    };
    // The scheme is case-insensitive (RFC 9110 11.1).
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty());
    match given {
        None => Err(Denied::NoToken),
        Some(got) if same(want, got) => Ok(()),
        Some(_) => Err(Denied::WrongToken),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn tokens_and_origins() {
        let ok = headers(&[
            ("authorization", "Bearer s3cret"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert_eq!(check(Some("s3cret"), &ok), Ok(()));
        assert_eq!(check(None, &ok), Err(Denied::ReadOnly));
        assert_eq!(check(Some("other"), &ok), Err(Denied::WrongToken));
        assert_eq!(check(Some("s3cret"), &headers(&[])), Err(Denied::NoToken));
        assert_eq!(check(None, &headers(&[])), Err(Denied::ReadOnly));
        let lower = headers(&[("authorization", "bearer s3cret")]);
        assert_eq!(check(Some(" s3cret "), &lower), Ok(()));
        let basic = headers(&[("authorization", "Basic s3cret")]);
        assert_eq!(check(Some("s3cret"), &basic), Err(Denied::NoToken));
        let same_site = headers(&[
            ("authorization", "Bearer s3cret"),
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert_eq!(check(Some("s3cret"), &same_site), Ok(()));
        let cross = headers(&[
            ("authorization", "Bearer s3cret"),
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ]);
        assert!(matches!(
            check(Some("s3cret"), &cross),
            Err(Denied::CrossSite(_))
        ));
        let fetch_cross = headers(&[
            ("authorization", "Bearer s3cret"),
            ("sec-fetch-site", "cross-site"),
        ]);
        assert!(matches!(
            check(Some("s3cret"), &fetch_cross),
            Err(Denied::CrossSite(_))
        ));
    }
}
