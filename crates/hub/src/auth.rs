//! Request signatures: how a write proves which Ethereum address sent it.
//!
//! A write request carries three headers:
//!
//! | header            | value                                             |
//! |-------------------|---------------------------------------------------|
//! | `x-ogn-address`   | the signer's address, `0x` + 40 hex digits        |
//! | `x-ogn-timestamp` | unix seconds when the request was signed          |
//! | `x-ogn-signature` | `0x` + 130 hex digits: the 65-byte `r‖s‖v` signature |
//!
//! The signature is an EIP-191 `personal_sign` over the message
//!
//! ```text
//! ogn-hub-request-v1\n{METHOD}\n{path-and-query}\n{hex sha256(body)}\n{timestamp}
//! ```
//!
//! where `{path-and-query}` is the request target exactly as sent (e.g. `/api/v0/models/foo/versions/`)
//! and the body hash covers the raw body bytes (for a multipart upload: the whole multipart body).
//!
//! The server accepts a request when (1) the timestamp is within ±`window` seconds of its clock, (2) the
//! address recovered from the signature equals `x-ogn-address`, and (3) the same signed message from the
//! same address has not been accepted before inside the window. (3) is a cache of accepted messages that
//! forgets entries once their timestamp leaves the window, so an exact replay is refused and memory stays
//! bounded by the request rate.

use std::{
    collections::HashMap,
    time::{SystemTime, UNIX_EPOCH},
};

use alloy::{
    primitives::{Address, B256, Signature, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use parking_lot::Mutex;

/// Header carrying the signer's address.
pub const HEADER_ADDRESS: &str = "x-ogn-address";
/// Header carrying the signing time in unix seconds.
pub const HEADER_TIMESTAMP: &str = "x-ogn-timestamp";
/// Header carrying the 65-byte signature in `0x` hex.
pub const HEADER_SIGNATURE: &str = "x-ogn-signature";
/// First line of every signed message; changes if the scheme ever changes.
pub const DOMAIN: &str = "ogn-hub-request-v1";
/// Default replay window in seconds.
pub const DEFAULT_WINDOW_SECS: u64 = 300;

/// Why a request's signature headers were refused (HTTP 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A required header is absent.
    #[error("missing header `{0}` (write requests must be signed)")]
    Missing(&'static str),
    /// A header is present but not in the expected form.
    #[error("malformed header `{header}`: {reason}")]
    Malformed {
        /// The header.
        header: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The timestamp is outside the replay window.
    #[error(
        "request timestamp {timestamp} is outside the allowed window of ±{window}s around server time {now}"
    )]
    Expired {
        /// Timestamp the request carried.
        timestamp: u64,
        /// Server time.
        now: u64,
        /// Window in seconds.
        window: u64,
    },
    /// The signature does not recover to the claimed address.
    #[error(
        "signature does not match address {claimed} for this request (method, path, body, timestamp)"
    )]
    BadSignature {
        /// The address the request claimed.
        claimed: Address,
    },
    /// This exact signed request was already accepted.
    #[error("replayed request: this signed request was already used")]
    Replayed,
}

/// The three signature headers of a request, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeaders {
    /// Address the request claims to come from.
    pub address: Address,
    /// Unix seconds when it was signed.
    pub timestamp: u64,
    /// The signature over [`signing_message`].
    pub signature: Signature,
}

impl AuthHeaders {
    /// Parses the headers of a request.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, AuthError> {
        let get = |name: &'static str| {
            headers.get(name).map(HeaderValue::as_bytes).ok_or(AuthError::Missing(name))
        };
        Self::parse(get(HEADER_ADDRESS)?, get(HEADER_TIMESTAMP)?, get(HEADER_SIGNATURE)?)
    }

    /// Parses raw header values (outside bytes: any input gives an error, never a panic).
    pub fn parse(address: &[u8], timestamp: &[u8], signature: &[u8]) -> Result<Self, AuthError> {
        fn text<'a>(header: &'static str, v: &'a [u8]) -> Result<&'a str, AuthError> {
            std::str::from_utf8(v)
                .map(str::trim)
                .map_err(|_| AuthError::Malformed { header, reason: "not UTF-8".into() })
        }
        let addr_s = text(HEADER_ADDRESS, address)?;
        let address = parse_hex_fixed::<20>(addr_s)
            .map(Address::from)
            .map_err(|reason| AuthError::Malformed { header: HEADER_ADDRESS, reason })?;
        let ts_s = text(HEADER_TIMESTAMP, timestamp)?;
        if ts_s.is_empty() || !ts_s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AuthError::Malformed {
                header: HEADER_TIMESTAMP,
                reason: "expected unix seconds as decimal digits".into(),
            });
        }
        let timestamp = ts_s.parse().map_err(|_| AuthError::Malformed {
            header: HEADER_TIMESTAMP,
            reason: "out of range".into(),
        })?;
        let sig_s = text(HEADER_SIGNATURE, signature)?;
        let raw = parse_hex_fixed::<65>(sig_s)
            .map_err(|reason| AuthError::Malformed { header: HEADER_SIGNATURE, reason })?;
        let signature = Signature::from_raw_array(&raw).map_err(|e| AuthError::Malformed {
            header: HEADER_SIGNATURE,
            reason: e.to_string(),
        })?;
        Ok(Self { address, timestamp, signature })
    }
}

fn parse_hex_fixed<const N: usize>(s: &str) -> Result<[u8; N], String> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    if digits.len() != 2 * N {
        return Err(format!(
            "expected 0x followed by {} hex digits, got {} characters",
            2 * N,
            digits.len()
        ));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).map_err(|e| format!("not hex: {e}"))?;
    Ok(out)
}

/// The message a request's signature covers.
pub fn signing_message(
    method: &str,
    path_and_query: &str,
    body_sha256: &[u8; 32],
    timestamp: u64,
) -> String {
    format!(
        "{DOMAIN}\n{}\n{path_and_query}\n{}\n{timestamp}",
        method.to_ascii_uppercase(),
        hex::encode(body_sha256)
    )
}

/// Current unix time in seconds.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Signs a request: returns the three headers to attach.
pub fn sign_request(
    signer: &PrivateKeySigner,
    method: &str,
    path_and_query: &str,
    body_sha256: &[u8; 32],
    timestamp: u64,
) -> Result<[(HeaderName, HeaderValue); 3], alloy::signers::Error> {
    let message = signing_message(method, path_and_query, body_sha256, timestamp);
    let signature = signer.sign_message_sync(message.as_bytes())?;
    let value =
        |s: String| HeaderValue::from_str(&s).expect("hex and digits are valid header values");
    Ok([
        (HeaderName::from_static(HEADER_ADDRESS), value(signer.address().to_checksum(None))),
        (HeaderName::from_static(HEADER_TIMESTAMP), value(timestamp.to_string())),
        (
            HeaderName::from_static(HEADER_SIGNATURE),
            value(format!("0x{}", hex::encode(signature.as_bytes()))),
        ),
    ])
}

/// Checks signed requests: clock window and replay cache. One per server.
#[derive(Debug)]
pub struct Verifier {
    window: u64,
    /// keccak256(address ‖ message) → timestamp of accepted requests still inside the window.
    seen: Mutex<HashMap<B256, u64>>,
}

impl Verifier {
    /// A verifier accepting timestamps within ±`window_secs` of the server clock.
    pub fn new(window_secs: u64) -> Self {
        Self { window: window_secs, seen: Mutex::new(HashMap::new()) }
    }

    /// The replay window in seconds.
    pub fn window_secs(&self) -> u64 {
        self.window
    }

    /// Checks the timestamp only (cheap; done before reading a body).
    pub fn check_fresh(&self, auth: &AuthHeaders, now: u64) -> Result<(), AuthError> {
        if auth.timestamp.abs_diff(now) > self.window {
            return Err(AuthError::Expired { timestamp: auth.timestamp, now, window: self.window });
        }
        Ok(())
    }

    /// Verifies a complete request and records it so that it cannot be replayed. Returns the signer.
    pub fn verify(
        &self,
        auth: &AuthHeaders,
        method: &str,
        path_and_query: &str,
        body_sha256: &[u8; 32],
        now: u64,
    ) -> Result<Address, AuthError> {
        self.check_fresh(auth, now)?;
        let message = signing_message(method, path_and_query, body_sha256, auth.timestamp);
        let recovered = auth
            .signature
            .recover_address_from_msg(message.as_bytes())
            .map_err(|_| AuthError::BadSignature { claimed: auth.address })?;
        if recovered != auth.address {
            return Err(AuthError::BadSignature { claimed: auth.address });
        }
        let mut key_input = auth.address.to_vec();
        key_input.extend_from_slice(message.as_bytes());
        let key = keccak256(&key_input);
        let mut seen = self.seen.lock();
        if seen.len() >= 1024 {
            let window = self.window;
            seen.retain(|_, ts| ts.abs_diff(now) <= window);
        }
        if seen.insert(key, auth.timestamp).is_some() {
            return Err(AuthError::Replayed);
        }
        Ok(recovered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn signed(signer: &PrivateKeySigner, body: &[u8], ts: u64) -> AuthHeaders {
        let hash: [u8; 32] = sha2::Sha256::digest(body).into();
        let mut headers = HeaderMap::new();
        for (k, v) in sign_request(signer, "POST", "/api/v0/models", &hash, ts).unwrap() {
            headers.insert(k, v);
        }
        AuthHeaders::from_headers(&headers).unwrap()
    }

    use sha2::Digest;

    #[test]
    fn accepts_once_then_refuses_replay() {
        let signer = PrivateKeySigner::random();
        let now = 1_700_000_000;
        let auth = signed(&signer, b"{}", now);
        let v = Verifier::new(300);
        let hash: [u8; 32] = sha2::Sha256::digest(b"{}").into();
        assert_eq!(
            v.verify(&auth, "POST", "/api/v0/models", &hash, now + 10),
            Ok(signer.address())
        );
        assert_eq!(
            v.verify(&auth, "POST", "/api/v0/models", &hash, now + 11),
            Err(AuthError::Replayed)
        );
    }

    #[test]
    fn refuses_tampering_and_stale() {
        let signer = PrivateKeySigner::random();
        let now = 1_700_000_000;
        let auth = signed(&signer, b"{}", now);
        let v = Verifier::new(300);
        let hash: [u8; 32] = sha2::Sha256::digest(b"{ }").into();
        assert!(matches!(
            v.verify(&auth, "POST", "/api/v0/models", &hash, now),
            Err(AuthError::BadSignature { .. })
        ));
        let good: [u8; 32] = sha2::Sha256::digest(b"{}").into();
        assert!(matches!(
            v.verify(&auth, "POST", "/api/v0/models/", &good, now),
            Err(AuthError::BadSignature { .. })
        ));
        assert!(matches!(
            v.verify(&auth, "POST", "/api/v0/models", &good, now + 301),
            Err(AuthError::Expired { .. })
        ));
        let mut other = auth.clone();
        other.address = PrivateKeySigner::random().address();
        assert!(matches!(
            v.verify(&other, "POST", "/api/v0/models", &good, now),
            Err(AuthError::BadSignature { .. })
        ));
    }

    #[test]
    fn malformed_headers_name_the_header() {
        let sig = format!("0x{}", "11".repeat(65));
        let addr = format!("0x{}", "ab".repeat(20));
        let e = AuthHeaders::parse(b"0x12", b"1", sig.as_bytes()).unwrap_err();
        assert!(e.to_string().contains(HEADER_ADDRESS), "{e}");
        let e = AuthHeaders::parse(addr.as_bytes(), b"-1", sig.as_bytes()).unwrap_err();
        assert!(e.to_string().contains(HEADER_TIMESTAMP), "{e}");
        let e = AuthHeaders::parse(addr.as_bytes(), b"1", b"0xzz").unwrap_err();
        assert!(e.to_string().contains(HEADER_SIGNATURE), "{e}");
        assert_eq!(
            AuthHeaders::from_headers(&HeaderMap::new()),
            Err(AuthError::Missing(HEADER_ADDRESS))
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(a in proptest::collection::vec(any::<u8>(), 0..60),
                              t in proptest::collection::vec(any::<u8>(), 0..30),
                              s in proptest::collection::vec(any::<u8>(), 0..140)) {
            let _ = AuthHeaders::parse(&a, &t, &s);
        }
    }
}
