//! Crash safety with a real process kill: a child process serves the hub (this test executable
//! re-invoked with `OGN_HUB_CRASH_CHILD_DIR` set), the parent streams a slow upload to it, kills it with
//! SIGKILL while the upload is half-way, reopens the hub from the same directory and checks that no
//! partial blob, no staging leftover and no file metadata survived.
//!
//! This file is a `harness = false` test: `main` plays the parent, or the child when the variable is set.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::signers::local::PrivateKeySigner;
use bytes::Bytes;
use common::{bytes, files_under, multipart, signed_headers};
use futures::StreamExt;
use ogn_hub::{Hub, HubClient, HubConfig, NewModel, Version, auth::unix_now};

const CHILD_ENV: &str = "OGN_HUB_CRASH_CHILD_DIR";

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        runtime.block_on(child(dir));
        return;
    }
    runtime.block_on(killed_mid_upload_leaves_nothing());
    println!("test killed_mid_upload_leaves_nothing ... ok");
    runtime.block_on(orphan_blobs_are_collected_on_open());
    println!("test orphan_blobs_are_collected_on_open ... ok");
}

/// The child: serve the hub in `dir` and print the port.
async fn child(dir: String) {
    let hub = Arc::new(Hub::open_local(&dir, HubConfig::default()).await.expect("open hub"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!("PORT {}", listener.local_addr().expect("addr").port());
    ogn_hub::api::serve(listener, hub, std::future::pending()).await.expect("serve");
}

/// Kills the child when dropped, so a failing assertion never leaks a process.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn killed_mid_upload_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = ChildGuard(
        Command::new(std::env::current_exe().expect("current exe"))
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child hub"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read port");
    let port: u16 = line.trim().strip_prefix("PORT ").expect("PORT line").parse().expect("port");
    let url = format!("http://127.0.0.1:{port}");

    let owner = PrivateKeySigner::random();
    let client = HubClient::new(&url).unwrap().with_signer(owner.clone());
    client.create_model(&NewModel::new("m", "crash test")).await.unwrap();
    client.create_version("m", "", false).await.unwrap();

    // A correctly signed 4 MiB upload of which only the first 1 MiB is ever sent.
    let path = "/api/v0/models/m/versions/1.00/files";
    let boundary = "crash-boundary";
    let content = bytes(4 << 20, 11);
    let full = multipart(boundary, &[("file", Some("big.bin"), &content)]);
    let headers = signed_headers(&owner, "POST", path, &full, unix_now());
    let first_part = Bytes::copy_from_slice(&full[..1 << 20]);
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(first_part) })
        .chain(futures::stream::pending());
    let upload = tokio::spawn(
        reqwest::Client::new()
            .post(format!("{url}{path}"))
            .headers(headers)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    );

    // Wait until the server has written part of the upload to staging, then kill it.
    let tmp = dir.path().join("tmp");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let staged: u64 = std::fs::read_dir(&tmp)
            .map(|d| d.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0);
        if staged >= 512 * 1024 {
            break;
        }
        assert!(Instant::now() < deadline, "the child never staged the upload");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.0.kill().expect("SIGKILL");
    child.0.wait().expect("wait");
    upload.abort();

    let before = files_under(dir.path());
    assert!(before.iter().any(|f| f.starts_with("tmp/")), "killed mid-upload: {before:?}");
    assert!(!before.iter().any(|f| f.starts_with("blobs/")), "no partial blob: {before:?}");

    let hub = Hub::open_local(dir.path(), HubConfig::default()).await.expect("reopen");
    let after = files_under(dir.path());
    assert!(!after.iter().any(|f| f.starts_with("tmp/") || f.starts_with("blobs/")), "{after:?}");
    assert!(hub.blobs().list().await.unwrap().is_empty());
    assert!(hub.files("m", Version::FIRST).await.unwrap().is_empty(), "no dangling metadata");
    assert_eq!(hub.model_with_versions("m").await.unwrap().1.len(), 1, "earlier writes survive");
}

async fn orphan_blobs_are_collected_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let orphan = {
        let hub = Hub::open_local(dir.path(), HubConfig::default()).await.unwrap();
        hub.create_model(NewModel::new("m", ""), PrivateKeySigner::random().address())
            .await
            .unwrap();
        hub.create_version("m", "", false).await.unwrap();
        let data = bytes(1000, 1);
        hub.add_file("m", Version::FIRST, "kept.bin", common_stream(data), None).await.unwrap();
        // A blob committed without its metadata: what a kill between the two steps leaves.
        let stored = hub.blobs().put(common_stream(bytes(1000, 2)), 1 << 20).await.unwrap();
        stored.cid
    };
    let config = HubConfig { collect_garbage_on_open: true, ..HubConfig::default() };
    let hub = Hub::open_local(dir.path(), config).await.unwrap();
    assert!(!hub.blobs().contains(&orphan).await.unwrap());
    let files = hub.files("m", Version::FIRST).await.unwrap();
    assert_eq!(files.len(), 1);
    assert!(hub.blobs().contains(&files[0].cid).await.unwrap());
}

fn common_stream(data: Vec<u8>) -> ogn_hub::blob::ByteStream<'static> {
    futures::stream::once(async move { Ok(Bytes::from(data)) }).boxed()
}
