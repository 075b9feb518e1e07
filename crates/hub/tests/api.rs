//! The hub HTTP API end to end: a real axum server on 127.0.0.1:0, the real client and raw requests.

mod common;

use std::sync::Arc;

use alloy::signers::local::PrivateKeySigner;
use common::*;
use ogn_hub::{
    Hub, HubClient, HubConfig, NewModel, ObjectBlobStore, Resolved, Version, auth::unix_now,
    client::ClientError,
};
use ogn_types::ModelCid;

const FILES: &str = "/api/v0/models/m/versions/1.00/files";

async fn setup(config: HubConfig) -> (tempfile::TempDir, TestServer, PrivateKeySigner, HubClient) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::local(dir.path(), config).await;
    let owner = PrivateKeySigner::random();
    let client = HubClient::new(&server.url).unwrap().with_signer(owner.clone());
    client.create_model(&NewModel::new("m", "a model")).await.unwrap();
    client.create_version("m", "first", false).await.unwrap();
    (dir, server, owner, client)
}

fn write_file(dir: &std::path::Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// The whole flow through the client, against any backend.
async fn happy_path(server: &TestServer, work: &std::path::Path) {
    let owner = PrivateKeySigner::random();
    let client = HubClient::new(&server.url).unwrap().with_signer(owner.clone());
    let mut new = NewModel::new("price-model", "predicts prices");
    new.task = "regression".into();
    new.license = "MIT".into();
    new.tags = vec!["finance".into(), "onnx".into()];
    let model = client.create_model(&new).await.unwrap();
    assert_eq!(model.owner, owner.address());
    assert_eq!(model.tags, new.tags);

    let v1 = client.create_version("price-model", "first", false).await.unwrap();
    let v2 = client.create_version("price-model", "fix", false).await.unwrap();
    let v3 = client.create_version("price-model", "new arch", true).await.unwrap();
    assert_eq!(
        [v1.version, v2.version, v3.version].map(|v| v.to_string()),
        ["1.00", "1.01", "2.00"]
    );

    let data = bytes(300_000, 7);
    let path = write_file(work, "model.onnx", &data);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let file = client
        .upload_file("price-model", v1.version, &path, None, move |n| seen2.lock().unwrap().push(n))
        .await
        .unwrap();
    assert_eq!(file.cid, ModelCid::for_bytes(&data));
    assert_eq!(file.size, data.len() as u64);
    assert_eq!(file.filename, "model.onnx");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.last(), Some(&(data.len() as u64)));
    assert!(seen.windows(2).all(|w| w[0] < w[1]));

    let files = client.list_files("price-model", v1.version).await.unwrap();
    assert_eq!(files, vec![file.clone()]);
    assert!(client.list_files("price-model", v2.version).await.unwrap().is_empty());

    let details = client.model("price-model").await.unwrap();
    assert_eq!(details.model, model);
    assert_eq!(details.versions.len(), 3);
    assert!(client.list_models().await.unwrap().iter().any(|m| m.name == "price-model"));

    let dest = work.join("downloaded.onnx");
    let got = client.download_blob(&file.cid, &dest, |_| {}).await.unwrap();
    assert_eq!(got, data.len() as u64);
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert_eq!(client.blob_size(&file.cid).await.unwrap(), data.len() as u64);

    match server.hub.resolve("price-model@1.00").await.unwrap() {
        Resolved::Version { version, files, .. } => {
            assert_eq!(version, Version::FIRST);
            assert_eq!(files, vec![file.clone()]);
        }
        other => panic!("{other:?}"),
    }
    match server.hub.resolve("price-model").await.unwrap() {
        Resolved::Version { version, .. } => assert_eq!(version.to_string(), "2.00"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        server.hub.resolve(&file.cid.to_string()).await.unwrap(),
        Resolved::Blob { cid: file.cid, size: data.len() as u64 }
    );

    // Raw JSON shapes as OpenGradient clients read them.
    let raw: serde_json::Value =
        reqwest::get(format!("{}/api/v0/models/price-model/versions/1.00/files/", server.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(raw[0]["ipfsCid"], file.cid.to_string());
    assert_eq!(raw[0]["size"], data.len() as u64);

    // Dedupe: the same bytes under another name and version are stored once.
    let again = write_file(work, "copy.onnx", &data);
    let file2 = client.upload_file("price-model", v2.version, &again, None, |_| {}).await.unwrap();
    assert_eq!(file2.cid, file.cid);
    assert_eq!(server.hub.blobs().list().await.unwrap(), vec![file.cid]);

    // Range requests.
    let http = reqwest::Client::new();
    let url = format!("{}/api/v0/blobs/{}", server.url, file.cid);
    let r = http.get(&url).header("range", "bytes=10-19").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"].to_str().unwrap(),
        format!("bytes 10-19/{}", data.len())
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[10..20]);
    let r = http.get(&url).header("range", "bytes=-5").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[data.len() - 5..]);
    let r = http.get(&url).header("range", "bytes=299990-").send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[299_990..]);
    let r = http.get(&url).header("range", "bytes=300000-").send().await.unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["content-range"].to_str().unwrap(), "bytes */300000");
    let r = http.get(&url).header("range", "bytes=9-3").send().await.unwrap();
    let (status, msg) = error_of(r).await;
    assert_eq!(status, 400);
    assert!(msg.contains("Range"), "{msg}");
    let r = http.head(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"].to_str().unwrap(), "300000");
    assert!(r.bytes().await.unwrap().is_empty());
    let missing = ModelCid::for_bytes(b"absent");
    let r = http.get(format!("{}/api/v0/blobs/{missing}", server.url)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = http.get(format!("{}/api/v0/blobs/not-a-cid", server.url)).send().await.unwrap();
    assert_eq!(error_of(r).await.0, 400);
}

#[tokio::test]
async fn happy_path_local() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = TestServer::local(dir.path(), HubConfig::default()).await;
    happy_path(&server, work.path()).await;
    server.stop().await;
    // Exactly one blob file on disk, nothing in staging.
    let files = files_under(dir.path());
    assert_eq!(files.iter().filter(|f| f.starts_with("blobs/")).count(), 1, "{files:?}");
    assert!(!files.iter().any(|f| f.starts_with("tmp/")), "{files:?}");
}

#[tokio::test]
async fn happy_path_object_store_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let store = Arc::new(object_store::memory::InMemory::new());
    let blobs = Arc::new(ObjectBlobStore::new(store, "hub"));
    let hub = Hub::open(dir.path().join("index.redb"), blobs, HubConfig::default()).await.unwrap();
    let server = TestServer::serve(Arc::new(hub)).await;
    happy_path(&server, work.path()).await;
    server.stop().await;
}

#[tokio::test]
async fn happy_path_object_store_local_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let store =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(bucket.path()).unwrap());
    let blobs = Arc::new(ObjectBlobStore::new(store, ""));
    let hub = Hub::open(dir.path().join("index.redb"), blobs, HubConfig::default()).await.unwrap();
    let server = TestServer::serve(Arc::new(hub)).await;
    happy_path(&server, work.path()).await;
    server.stop().await;
    let files = files_under(bucket.path());
    assert_eq!(files.len(), 1, "one blob, no staging leftovers: {files:?}");
    assert!(files[0].starts_with("blobs/"));
}

#[tokio::test]
async fn trailing_slashes_and_opengradient_field_names() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::local(dir.path(), HubConfig::default()).await;
    let owner = PrivateKeySigner::random();
    let r = post_signed(
        &server,
        &owner,
        "/api/v0/models/",
        "application/json",
        br#"{"name": "og", "description": "d"}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status(), 201);
    let r = post_signed(
        &server,
        &owner,
        "/api/v0/models/og/versions/",
        "application/json",
        br#"{"notes": "n", "is_major": false}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["versionString"], "1.00");
    let r = upload_raw(
        &server,
        &owner,
        "/api/v0/models/og/versions/1.00/files/",
        &[("file", Some("w.bin"), b"weights")],
    )
    .await;
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["ipfsCid"], ModelCid::for_bytes(b"weights").to_string());
    assert_eq!(v["size"], 7);
    // Re-uploading the same bytes under the same name is idempotent; different bytes conflict.
    let r = upload_raw(
        &server,
        &owner,
        "/api/v0/models/og/versions/1.00/files",
        &[("file", Some("w.bin"), b"weights")],
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = upload_raw(
        &server,
        &owner,
        "/api/v0/models/og/versions/1.00/files",
        &[("file", Some("w.bin"), b"other")],
    )
    .await;
    let (status, msg) = error_of(r).await;
    assert_eq!(status, 409, "{msg}");
    assert!(msg.contains("already has a file"), "{msg}");
    // Creating an existing model conflicts.
    let r = post_signed(
        &server,
        &owner,
        "/api/v0/models",
        "application/json",
        br#"{"name": "og"}"#.to_vec(),
    )
    .await;
    assert_eq!(error_of(r).await.0, 409);
    let r = reqwest::get(format!("{}/api/v0/models/og/", server.url)).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = reqwest::get(format!("{}/api/v0/models/nope", server.url)).await.unwrap();
    assert_eq!(error_of(r).await.0, 404);
    let r = reqwest::get(format!("{}/api/v0/nothing/here", server.url)).await.unwrap();
    let (status, msg) = error_of(r).await;
    assert_eq!(status, 404);
    assert!(msg.contains("/api/v0/nothing/here"), "{msg}");
    let r =
        reqwest::get(format!("{}/api/v0/models/og/versions/9.00/files", server.url)).await.unwrap();
    assert_eq!(error_of(r).await.0, 404);
    server.stop().await;
}

#[tokio::test]
async fn upload_over_the_limit_stores_nothing() {
    let limit = 64 * 1024;
    let config = HubConfig { max_file_size: limit, ..HubConfig::default() };
    let (dir, server, _owner, client) = setup(config).await;
    let work = tempfile::tempdir().unwrap();
    let big = write_file(work.path(), "big.bin", &bytes(limit as usize + 1, 1));
    let err = client.upload_file("m", Version::FIRST, &big, None, |_| {}).await.unwrap_err();
    match &err {
        ClientError::Api { status: 413, message } => {
            assert!(message.contains("per-file limit of 65536 bytes"), "{message}")
        }
        other => panic!("expected 413, got {other}"),
    }
    // Much larger than the limit: refused while streaming, the client still gets the answer.
    let huge = write_file(work.path(), "huge.bin", &bytes(4 << 20, 2));
    let err = client.upload_file("m", Version::FIRST, &huge, None, |_| {}).await.unwrap_err();
    assert!(matches!(err, ClientError::Api { status: 413, .. }), "{err}");
    assert!(client.list_files("m", Version::FIRST).await.unwrap().is_empty());
    let files = files_under(dir.path());
    assert!(!files.iter().any(|f| f.starts_with("blobs/") || f.starts_with("tmp/")), "{files:?}");
    // Exactly at the limit is fine.
    let exact = write_file(work.path(), "exact.bin", &bytes(limit as usize, 3));
    let rec = client.upload_file("m", Version::FIRST, &exact, None, |_| {}).await.unwrap();
    assert_eq!(rec.size, limit);
    server.stop().await;
}

#[tokio::test]
async fn declared_cid_mismatch_is_refused() {
    let (dir, server, owner, client) = setup(HubConfig::default()).await;
    let wrong = ModelCid::for_bytes(b"something else").to_string();
    let r = upload_raw(
        &server,
        &owner,
        FILES,
        &[("cid", None, wrong.as_bytes()), ("file", Some("a.bin"), b"actual bytes")],
    )
    .await;
    let (status, msg) = error_of(r).await;
    assert_eq!(status, 400);
    assert!(msg.contains("CID mismatch") && msg.contains(&wrong), "{msg}");
    // A garbage CID is named as such.
    let r = upload_raw(
        &server,
        &owner,
        FILES,
        &[("file", Some("a.bin"), b"x"), ("cid", None, b"Qm..")],
    )
    .await;
    let (status, msg) = error_of(r).await;
    assert_eq!(status, 400);
    assert!(msg.contains("invalid declared CID"), "{msg}");
    assert!(client.list_files("m", Version::FIRST).await.unwrap().is_empty());
    let files = files_under(dir.path());
    assert!(!files.iter().any(|f| f.starts_with("blobs/") || f.starts_with("tmp/")), "{files:?}");
    // The matching CID is accepted.
    let right = ModelCid::for_bytes(b"actual bytes").to_string();
    let r = upload_raw(
        &server,
        &owner,
        FILES,
        &[("file", Some("a.bin"), b"actual bytes"), ("cid", None, right.as_bytes())],
    )
    .await;
    assert_eq!(r.status(), 201);
    server.stop().await;
}

#[tokio::test]
async fn path_traversal_is_refused() {
    let (dir, server, owner, client) = setup(HubConfig::default()).await;
    // Model name in a JSON body.
    for name in ["../evil", "a/b", "..", "a\\b", "x\u{0}y"] {
        let body = serde_json::to_vec(&serde_json::json!({ "name": name })).unwrap();
        let r = post_signed(&server, &owner, "/api/v0/models", "application/json", body).await;
        let (status, msg) = error_of(r).await;
        assert_eq!(status, 400, "{name:?}: {msg}");
        assert!(msg.contains("invalid model name"), "{msg}");
    }
    // Model name and version in the path (percent-encoded so that URL normalisation keeps them).
    let r = reqwest::get(format!("{}/api/v0/models/..%2F..%2Fetc", server.url)).await.unwrap();
    let (status, msg) = error_of(r).await;
    assert_eq!((status, msg.contains("invalid model name")), (400, true), "{msg}");
    for version in ["..%2F1.00", "1.00%2F..", "%2E%2E%2F1.00", "1.0"] {
        let path = format!("/api/v0/models/m/versions/{version}/files");
        let r = upload_raw(&server, &owner, &path, &[("file", Some("a.bin"), b"x")]).await;
        let (status, msg) = error_of(r).await;
        assert_eq!(status, 400, "{version}: {msg}");
        assert!(msg.contains("invalid version"), "{msg}");
    }
    // Filename in the multipart body.
    for filename in ["../../etc/passwd", "..", "a/b.onnx", "C:\\x.onnx", "a..b"] {
        let r = upload_raw(&server, &owner, FILES, &[("file", Some(filename), b"payload")]).await;
        let (status, msg) = error_of(r).await;
        assert_eq!(status, 400, "{filename}: {msg}");
        assert!(msg.contains("invalid filename"), "{msg}");
    }
    let err = client
        .upload_file("m", Version::FIRST, dir.path(), Some("../x"), |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Invalid(_)), "{err}");
    assert!(client.list_files("m", Version::FIRST).await.unwrap().is_empty());
    assert_eq!(client.list_models().await.unwrap().len(), 1);
    let files = files_under(dir.path());
    assert!(!files.iter().any(|f| f.starts_with("blobs/") || f.starts_with("tmp/")), "{files:?}");
    server.stop().await;
}

#[tokio::test]
async fn only_the_owner_writes() {
    let (dir, server, _owner, _client) = setup(HubConfig::default()).await;
    let intruder = PrivateKeySigner::random();
    let other = HubClient::new(&server.url).unwrap().with_signer(intruder.clone());
    let err = other.create_version("m", "mine now", false).await.unwrap_err();
    match err {
        ClientError::Api { status: 403, message } => {
            assert!(message.contains("not the owner"), "{message}")
        }
        other => panic!("{other}"),
    }
    let r =
        upload_raw(&server, &intruder, FILES, &[("file", Some("x.bin"), &bytes(1 << 20, 9))]).await;
    assert_eq!(error_of(r).await.0, 403);
    // Reads are public and need no key.
    let anonymous = HubClient::new(&server.url).unwrap();
    assert_eq!(anonymous.model("m").await.unwrap().versions.len(), 1);
    assert!(matches!(
        anonymous.create_model(&NewModel::new("n", "")).await,
        Err(ClientError::NoSigner)
    ));
    let files = files_under(dir.path());
    assert!(!files.iter().any(|f| f.starts_with("blobs/") || f.starts_with("tmp/")), "{files:?}");
    server.stop().await;
}

#[tokio::test]
async fn bad_expired_and_replayed_signatures_are_refused() {
    let (dir, server, owner, client) = setup(HubConfig::default()).await;
    let http = reqwest::Client::new();
    let body = common::multipart("b0", &[("file", Some("f.bin"), b"data")]);
    let send = |headers: reqwest::header::HeaderMap, body: Vec<u8>| {
        http.post(format!("{}{FILES}", server.url))
            .headers(headers)
            .header("content-type", "multipart/form-data; boundary=b0")
            .body(body)
            .send()
    };

    // No signature at all.
    let (status, msg) = error_of(send(Default::default(), body.clone()).await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(msg.contains("missing header"), "{msg}");

    // Signed by another key but claiming the owner's address.
    let forger = PrivateKeySigner::random();
    let mut headers = signed_headers(&forger, "POST", FILES, &body, unix_now());
    headers.insert("x-ogn-address", owner.address().to_string().parse().unwrap());
    let (status, msg) = error_of(send(headers, body.clone()).await.unwrap()).await;
    assert_eq!(status, 401, "{msg}");
    assert!(msg.contains("signature does not match"), "{msg}");

    // The owner's signature over a different body.
    let headers = signed_headers(&owner, "POST", FILES, b"other body", unix_now());
    let (status, _) = error_of(send(headers, body.clone()).await.unwrap()).await;
    assert_eq!(status, 401);

    // Expired.
    let headers = signed_headers(&owner, "POST", FILES, &body, unix_now() - 3600);
    let (status, msg) = error_of(send(headers, body.clone()).await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(msg.contains("outside the allowed window"), "{msg}");

    // Malformed signature header.
    let mut headers = signed_headers(&owner, "POST", FILES, &body, unix_now());
    headers.insert("x-ogn-signature", "0x1234".parse().unwrap());
    let (status, msg) = error_of(send(headers, body.clone()).await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(msg.contains("x-ogn-signature"), "{msg}");

    // Nothing stored so far.
    let files = files_under(dir.path());
    assert!(!files.iter().any(|f| f.starts_with("blobs/") || f.starts_with("tmp/")), "{files:?}");

    // A valid request is accepted once; the identical request again is a replay.
    let headers = signed_headers(&owner, "POST", FILES, &body, unix_now());
    let first = send(headers.clone(), body.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    let (status, msg) = error_of(send(headers, body.clone()).await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(msg.contains("replayed"), "{msg}");

    // Same for a JSON write.
    let path = "/api/v0/models/m/versions";
    let json = br#"{"notes":"x"}"#.to_vec();
    let headers = signed_headers(&owner, "POST", path, &json, unix_now());
    let post = |h| {
        http.post(format!("{}{path}", server.url))
            .headers(h)
            .header("content-type", "application/json")
            .body(json.clone())
            .send()
    };
    assert_eq!(post(headers.clone()).await.unwrap().status(), 201);
    assert_eq!(error_of(post(headers).await.unwrap()).await.0, 401);
    assert_eq!(client.model("m").await.unwrap().versions.len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn corrupted_blob_is_detected_on_read() {
    let (dir, server, _owner, client) = setup(HubConfig::default()).await;
    let work = tempfile::tempdir().unwrap();
    let data = bytes(100_000, 5);
    let path = write_file(work.path(), "w.bin", &data);
    let rec = client.upload_file("m", Version::FIRST, &path, None, |_| {}).await.unwrap();
    // Flip one byte on disk, keeping the size.
    let blob = dir.path().join("blobs").join(rec.cid.to_string());
    let mut on_disk = std::fs::read(&blob).unwrap();
    on_disk[50_000] ^= 0xff;
    std::fs::write(&blob, &on_disk).unwrap();

    let url = format!("{}/api/v0/blobs/{}", server.url, rec.cid);
    let (status, msg) = error_of(reqwest::get(&url).await.unwrap()).await;
    assert_eq!(status, 500);
    assert!(msg.contains("corrupted") && msg.contains(&rec.cid.to_string()), "{msg}");
    let r = reqwest::Client::new().get(&url).header("range", "bytes=0-9").send().await.unwrap();
    assert_eq!(error_of(r).await.0, 500);
    let dest = work.path().join("out.bin");
    let err = client.download_blob(&rec.cid, &dest, |_| {}).await.unwrap_err();
    assert!(matches!(err, ClientError::Api { status: 500, .. }), "{err}");
    assert!(!dest.exists());
    assert_eq!(files_under(work.path()), vec!["w.bin".to_string()], "no partial download left");
    match server.hub.blobs().get(&rec.cid).await {
        Err(ogn_hub::blob::BlobError::Corrupted { cid, .. }) => assert_eq!(cid, rec.cid),
        other => panic!("{other:?}"),
    }
    // Uploading the good bytes again replaces the damaged copy.
    let again = write_file(work.path(), "again.bin", &data);
    client.upload_file("m", Version::FIRST, &again, Some("w.bin"), |_| {}).await.unwrap();
    client.download_blob(&rec.cid, &dest, |_| {}).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    server.stop().await;
}
