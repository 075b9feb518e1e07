//! [`HubClient`]: an async client of the hub API (reqwest), used by the `ogn` command.
//!
//! Writes are signed with a [`PrivateKeySigner`] (see [`crate::auth`]). Uploads stream a file from disk
//! twice: once to hash it (the signature covers the body hash, and the declared CID goes in the `cid`
//! field), once to send it, calling `progress(bytes_sent)` as chunks go out. Downloads stream to a
//! temporary file next to the destination, check the CID of the bytes, fsync and rename, so the
//! destination is either absent or complete and correct.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ogn_hub::client::ClientError> {
//! use ogn_hub::{HubClient, NewModel};
//! let signer = alloy::signers::local::PrivateKeySigner::random();
//! let client = HubClient::new("http://127.0.0.1:8080")?.with_signer(signer);
//! client.create_model(&NewModel::new("my-model", "what it does")).await?;
//! let v = client.create_version("my-model", "first", false).await?;
//! let file = client
//!     .upload_file("my-model", v.version, "model.onnx".as_ref(), None, |sent| println!("{sent}"))
//!     .await?;
//! client.download_blob(&file.cid, "copy.onnx".as_ref(), |_| {}).await?;
//! # Ok(()) }
//! ```

use std::{
    io,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use ogn_types::ModelCid;
use reqwest::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{
    api::{ModelDetails, NewVersion},
    auth::{sign_request, unix_now},
    index::{FileRecord, ModelRecord, NewModel, VersionRecord},
    names::{InvalidName, validate_filename, validate_model_name},
    version::Version,
};

/// What a client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL is not usable.
    #[error("invalid hub URL {url:?}: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The request did not complete (connection refused, reset, timeout, …).
    #[error("request to {url} failed: {source}")]
    Http {
        /// The URL.
        url: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// The hub answered with an error status.
    #[error("hub refused ({status}): {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The hub's `error` message.
        message: String,
    },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Downloaded bytes do not hash to the requested CID (nothing was written).
    #[error("downloaded bytes hash to {actual}, expected {expected}")]
    CidMismatch {
        /// The CID asked for.
        expected: ModelCid,
        /// What arrived.
        actual: ModelCid,
    },
    /// A write was attempted without a signing key.
    #[error("this request must be signed but no signing key is configured")]
    NoSigner,
    /// Signing failed.
    #[error("signing the request failed: {0}")]
    Signing(String),
    /// A name or filename that the hub would refuse.
    #[error(transparent)]
    Invalid(#[from] InvalidName),
    /// The hub's answer could not be decoded.
    #[error("unexpected answer from {url}: {reason}")]
    Decode {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// An async client of one hub.
#[derive(Debug, Clone)]
pub struct HubClient {
    base: String,
    http: reqwest::Client,
    signer: Option<PrivateKeySigner>,
}

fn file_err(path: &Path) -> impl FnOnce(io::Error) -> ClientError + '_ {
    move |source| ClientError::File { path: path.to_path_buf(), source }
}

impl HubClient {
    /// A client for the hub at `base_url` (e.g. `http://127.0.0.1:8080`), without a signing key.
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let url = reqwest::Url::parse(base_url)
            .map_err(|e| ClientError::BadUrl { url: base_url.into(), reason: e.to_string() })?;
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
            return Err(ClientError::BadUrl {
                url: base_url.into(),
                reason: "expected http(s)://host[:port][/prefix]".into(),
            });
        }
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| ClientError::Http { url: base_url.into(), source: e })?;
        Ok(Self { base: base_url.trim_end_matches('/').to_string(), http, signer: None })
    }

    /// Signs write requests with `signer`; its address owns the models it creates.
    pub fn with_signer(mut self, signer: PrivateKeySigner) -> Self {
        self.signer = Some(signer);
        self
    }

    /// The signing address, if any.
    pub fn address(&self) -> Option<Address> {
        self.signer.as_ref().map(|s| s.address())
    }

    /// The hub's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Builds a request, signed over `body_sha256` when `sign` is set.
    fn request(
        &self,
        method: Method,
        url: &str,
        sign_body: Option<&[u8; 32]>,
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        let mut builder = self.http.request(method.clone(), url);
        if let Some(body_hash) = sign_body {
            let signer = self.signer.as_ref().ok_or(ClientError::NoSigner)?;
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| ClientError::BadUrl { url: url.into(), reason: e.to_string() })?;
            let path_and_query = match parsed.query() {
                Some(q) => format!("{}?{q}", parsed.path()),
                None => parsed.path().to_string(),
            };
            let headers =
                sign_request(signer, method.as_str(), &path_and_query, body_hash, unix_now())
                    .map_err(|e| ClientError::Signing(e.to_string()))?;
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
        }
        Ok(builder)
    }

    async fn send(
        &self,
        url: &str,
        builder: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let response =
            builder.send().await.map_err(|source| ClientError::Http { url: url.into(), source })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or(text);
        Err(ClientError::Api { status, message })
    }

    async fn json<T: DeserializeOwned>(
        &self,
        url: &str,
        builder: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let response = self.send(url, builder).await?;
        response
            .json()
            .await
            .map_err(|e| ClientError::Decode { url: url.into(), reason: e.to_string() })
    }

    async fn signed_json<T: DeserializeOwned>(
        &self,
        url: &str,
        body: Vec<u8>,
    ) -> Result<T, ClientError> {
        let hash: [u8; 32] = Sha256::digest(&body).into();
        let builder = self
            .request(Method::POST, url, Some(&hash))?
            .header(header::CONTENT_TYPE, "application/json")
            .body(body);
        self.json(url, builder).await
    }

    /// All models.
    pub async fn list_models(&self) -> Result<Vec<ModelRecord>, ClientError> {
        let url = self.url("/api/v0/models");
        self.json(&url, self.request(Method::GET, &url, None)?).await
    }

    /// A model and its versions.
    pub async fn model(&self, name: &str) -> Result<ModelDetails, ClientError> {
        validate_model_name(name)?;
        let url = self.url(&format!("/api/v0/models/{name}"));
        self.json(&url, self.request(Method::GET, &url, None)?).await
    }

    /// Creates a model owned by this client's signer.
    pub async fn create_model(&self, new: &NewModel) -> Result<ModelRecord, ClientError> {
        validate_model_name(&new.name)?;
        let url = self.url("/api/v0/models");
        let body = serde_json::to_vec(new).expect("serializable");
        self.signed_json(&url, body).await
    }

    /// Creates the next version of a model (owner only).
    pub async fn create_version(
        &self,
        name: &str,
        notes: &str,
        is_major: bool,
    ) -> Result<VersionRecord, ClientError> {
        validate_model_name(name)?;
        let url = self.url(&format!("/api/v0/models/{name}/versions"));
        let body = serde_json::to_vec(&NewVersion { notes: notes.into(), is_major })
            .expect("serializable");
        self.signed_json(&url, body).await
    }

    /// The files of a version.
    pub async fn list_files(
        &self,
        name: &str,
        version: Version,
    ) -> Result<Vec<FileRecord>, ClientError> {
        validate_model_name(name)?;
        let url = self.url(&format!("/api/v0/models/{name}/versions/{version}/files"));
        self.json(&url, self.request(Method::GET, &url, None)?).await
    }

    /// Uploads the file at `path` to a version (owner only), as `filename` or the path's file name.
    /// `progress` is called with the number of file bytes sent so far.
    pub async fn upload_file(
        &self,
        name: &str,
        version: Version,
        path: &Path,
        filename: Option<&str>,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<FileRecord, ClientError> {
        validate_model_name(name)?;
        let filename =
            match filename {
                Some(f) => f.to_string(),
                None => path.file_name().and_then(|f| f.to_str()).map(str::to_owned).ok_or_else(
                    || ClientError::File {
                        path: path.to_path_buf(),
                        source: io::Error::new(io::ErrorKind::InvalidInput, "no UTF-8 file name"),
                    },
                )?,
            };
        validate_filename(&filename)?;

        // Pass 1: the file's CID.
        let mut file = tokio::fs::File::open(path).await.map_err(file_err(path))?;
        let mut file_hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buf).await.map_err(file_err(path))?;
            if n == 0 {
                break;
            }
            file_hasher.update(&buf[..n]);
            size += n as u64;
        }
        let cid = ModelCid::from_sha256(file_hasher.finalize().into());

        // The multipart body: a `cid` field, then the `file` field.
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let boundary = format!(
            "ogn-{}",
            &hex::encode(Sha256::digest(format!("{cid}{nanos}{}", std::process::id())))[..32]
        );
        let prefix = Bytes::from(format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"cid\"\r\n\r\n{cid}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        ));
        let suffix = Bytes::from(format!("\r\n--{boundary}--\r\n"));

        // The body hash: prefix, file bytes (hashed again, in case the file changed), suffix.
        let mut body_hasher = Sha256::new();
        body_hasher.update(&prefix);
        let mut file = tokio::fs::File::open(path).await.map_err(file_err(path))?;
        loop {
            let n = file.read(&mut buf).await.map_err(file_err(path))?;
            if n == 0 {
                break;
            }
            body_hasher.update(&buf[..n]);
        }
        body_hasher.update(&suffix);
        let body_hash: [u8; 32] = body_hasher.finalize().into();

        // Pass 2: send.
        let content_length = size + prefix.len() as u64 + suffix.len() as u64;
        let file = tokio::fs::File::open(path).await.map_err(file_err(path))?;
        let sent = Arc::new(AtomicU64::new(0));
        let file_stream = crate::blob::reader_stream(file).map_ok(move |chunk| {
            let total = sent.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
            progress(total);
            chunk
        });
        let body_stream = futures::stream::once(async move { Ok::<_, io::Error>(prefix) })
            .chain(file_stream)
            .chain(futures::stream::once(async move { Ok(suffix) }));
        let url = self.url(&format!("/api/v0/models/{name}/versions/{version}/files"));
        let builder = self
            .request(Method::POST, &url, Some(&body_hash))?
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .header(header::CONTENT_LENGTH, content_length)
            .body(reqwest::Body::wrap_stream(body_stream));
        self.json(&url, builder).await
    }

    /// The size of a stored blob (`HEAD`).
    pub async fn blob_size(&self, cid: &ModelCid) -> Result<u64, ClientError> {
        let url = self.url(&format!("/api/v0/blobs/{cid}"));
        let response = self.send(&url, self.request(Method::HEAD, &url, None)?).await?;
        response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ClientError::Decode { url, reason: "no Content-Length".into() })
    }

    /// Downloads a blob to `dest`, calling `progress` with the bytes received so far. The bytes must hash
    /// to `cid`; `dest` is written atomically (temporary file, fsync, rename). Returns the size.
    pub async fn download_blob(
        &self,
        cid: &ModelCid,
        dest: &Path,
        progress: impl Fn(u64) + Send + Sync,
    ) -> Result<u64, ClientError> {
        let url = self.url(&format!("/api/v0/blobs/{cid}"));
        let response = self.send(&url, self.request(Method::GET, &url, None)?).await?;
        if response.status() != StatusCode::OK {
            return Err(ClientError::Decode {
                url,
                reason: format!("expected 200, got {}", response.status()),
            });
        }
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest.file_name().and_then(|n| n.to_str()).unwrap_or("download");
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let tmp = dir.join(format!(".{name}.{}-{nanos}.part", std::process::id()));
        let mut guard = RemoveOnDrop(Some(tmp.clone()));
        let mut out = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .await
            .map_err(file_err(&tmp))?;
        let mut hasher = Sha256::new();
        let mut received = 0u64;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|source| ClientError::Http { url: url.clone(), source })?;
            hasher.update(&chunk);
            out.write_all(&chunk).await.map_err(file_err(&tmp))?;
            received += chunk.len() as u64;
            progress(received);
        }
        let actual = ModelCid::from_sha256(hasher.finalize().into());
        if actual != *cid {
            return Err(ClientError::CidMismatch { expected: *cid, actual });
        }
        out.flush().await.map_err(file_err(&tmp))?;
        out.sync_all().await.map_err(file_err(&tmp))?;
        drop(out);
        tokio::fs::rename(&tmp, dest).await.map_err(file_err(dest))?;
        guard.0 = None;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(received)
    }
}

struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}
