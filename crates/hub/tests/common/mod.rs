//! Shared helpers of the hub's integration tests: a real server on 127.0.0.1:0 and raw signed requests.
#![allow(dead_code, unreachable_pub)]

use std::{path::Path, sync::Arc};

use alloy::signers::local::PrivateKeySigner;
use ogn_hub::{
    Hub, HubConfig,
    auth::{sign_request, unix_now},
};
use sha2::{Digest, Sha256};
use tokio::{sync::oneshot, task::JoinHandle};

/// A hub served over HTTP until stopped (or dropped).
pub struct TestServer {
    pub url: String,
    pub hub: Arc<Hub>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Serves a hub kept in `dir`.
    pub async fn local(dir: &Path, config: HubConfig) -> Self {
        let hub = Arc::new(Hub::open_local(dir, config).await.expect("open hub"));
        Self::serve(hub).await
    }

    /// Serves `hub`.
    pub async fn serve(hub: Arc<Hub>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(ogn_hub::api::serve(listener, hub.clone(), async {
            let _ = rx.await;
        }));
        Self { url, hub, shutdown: Some(tx), handle: Some(handle) }
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.expect("server task").expect("server");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

/// A multipart body with the given `(name, filename, bytes)` parts.
pub fn multipart(boundary: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                    .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// Headers of a request signed by `signer` at `timestamp`.
pub fn signed_headers(
    signer: &PrivateKeySigner,
    method: &str,
    path: &str,
    body: &[u8],
    timestamp: u64,
) -> reqwest::header::HeaderMap {
    let hash: [u8; 32] = Sha256::digest(body).into();
    let mut headers = reqwest::header::HeaderMap::new();
    for (k, v) in sign_request(signer, method, path, &hash, timestamp).expect("sign") {
        headers.insert(k, v);
    }
    headers
}

/// Sends a signed POST (signed now) with a raw body.
pub async fn post_signed(
    server: &TestServer,
    signer: &PrivateKeySigner,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    let headers = signed_headers(signer, "POST", path, &body, unix_now());
    reqwest::Client::new()
        .post(format!("{}{path}", server.url))
        .headers(headers)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("send")
}

/// Sends a signed multipart upload of `parts` to a version.
pub async fn upload_raw(
    server: &TestServer,
    signer: &PrivateKeySigner,
    path: &str,
    parts: &[(&str, Option<&str>, &[u8])],
) -> reqwest::Response {
    let boundary = "test-boundary-7d3f";
    post_signed(
        server,
        signer,
        path,
        &format!("multipart/form-data; boundary={boundary}"),
        multipart(boundary, parts),
    )
    .await
}

/// The `error` message of a JSON error answer.
pub async fn error_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let v: serde_json::Value = response.json().await.expect("json error body");
    (status, v["error"].as_str().expect("error field").to_string())
}

/// Files in a directory (recursively), as paths relative to it.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Deterministic test bytes.
pub fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}
