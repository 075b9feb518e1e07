//! The blob stores on their own: local directory, object_store in memory and on the local filesystem.

mod common;

use std::{io, sync::Arc, time::Duration};

use bytes::Bytes;
use common::{bytes, files_under};
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectStore, ObjectStoreExt, path::Path as ObjectPath};
use ogn_hub::{
    BlobStore, LocalBlobStore, ObjectBlobStore,
    blob::{BlobError, ByteStream},
};
use ogn_types::ModelCid;

fn chunks(data: &[u8], size: usize) -> ByteStream<'static> {
    let parts: Vec<io::Result<Bytes>> =
        data.chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures::stream::iter(parts).boxed()
}

/// A stream that yields `data` and then never ends (an upload that stalls).
fn stalled(data: Vec<u8>) -> ByteStream<'static> {
    futures::stream::once(async move { Ok(Bytes::from(data)) })
        .chain(futures::stream::pending())
        .boxed()
}

/// Behaviour every store must have. `staging_is_empty` inspects the backend directly.
async fn contract(store: &dyn BlobStore, staging_is_empty: impl AsyncFn() -> bool) {
    let data = bytes(200_000, 1);
    let cid = ModelCid::for_bytes(&data);

    // Put, read back, dedupe.
    let stored = store.put(chunks(&data, 7_000), 1 << 20).await.unwrap();
    assert_eq!((stored.cid, stored.size, stored.deduplicated), (cid, 200_000, false));
    assert!(store.contains(&cid).await.unwrap());
    assert_eq!(store.get(&cid).await.unwrap().as_ref(), data.as_slice());
    let again = store.put(chunks(&data, 65_536), 1 << 20).await.unwrap();
    assert!(again.deduplicated);
    assert_eq!(store.list().await.unwrap(), vec![cid]);
    assert!(staging_is_empty().await);

    // Verified streaming and ranges.
    let (size, stream) = store.open(&cid).await.unwrap();
    assert_eq!(size, 200_000);
    let all: Vec<Bytes> = stream.try_collect().await.unwrap();
    assert_eq!(all.concat(), data);
    let part: Vec<Bytes> =
        store.get_range(&cid, 1000..1010).await.unwrap().try_collect().await.unwrap();
    assert_eq!(part.concat(), &data[1000..1010]);
    assert!(matches!(
        store.get_range(&cid, 10..300_000).await,
        Err(BlobError::OutOfRange { size: 200_000, .. })
    ));
    let empty = store.put(chunks(&[], 1), 10).await.unwrap();
    assert_eq!(store.get(&empty.cid).await.unwrap().len(), 0);

    // Over the limit: refused, nothing kept; the limit itself is fine.
    let err = store.put(chunks(&data, 10_000), 199_999).await.unwrap_err();
    assert!(matches!(err, BlobError::TooLarge { limit: 199_999 }), "{err}");
    assert!(err.to_string().contains("199999"));
    let other = bytes(50_000, 2);
    let err = store.put(chunks(&other, 10_000), 49_999).await.unwrap_err();
    assert!(matches!(err, BlobError::TooLarge { .. }));
    assert!(!store.contains(&ModelCid::for_bytes(&other)).await.unwrap());
    assert!(staging_is_empty().await);
    store.put(chunks(&other, 10_000), 50_000).await.unwrap();

    // Declared CID mismatch: nothing kept.
    let third = bytes(10_000, 3);
    let err = store.put_expecting(chunks(&third, 1000), 1 << 20, &cid).await.unwrap_err();
    match err {
        BlobError::CidMismatch { expected, actual } => {
            assert_eq!(expected, cid);
            assert_eq!(actual, ModelCid::for_bytes(&third));
        }
        other => panic!("{other}"),
    }
    assert!(!store.contains(&ModelCid::for_bytes(&third)).await.unwrap());
    assert!(staging_is_empty().await);

    // A failing source: nothing kept.
    let failing = futures::stream::iter(vec![
        Ok(Bytes::from_static(b"abc")),
        Err(io::Error::new(io::ErrorKind::ConnectionReset, "client went away")),
    ])
    .boxed();
    assert!(matches!(store.stage(failing, 100).await, Err(BlobError::Source(_))));
    assert!(staging_is_empty().await);

    // An upload abandoned mid-stream (its future dropped) leaves nothing once dropped.
    let stall = tokio::time::timeout(
        Duration::from_millis(200),
        store.stage(stalled(bytes(5000, 4)), 1 << 20),
    );
    assert!(stall.await.is_err());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(staging_is_empty().await);

    // Discarding a staged blob stores nothing.
    let staged = store.stage(chunks(b"discard me", 3), 100).await.unwrap();
    let staged_cid = staged.cid();
    store.discard(staged).await.unwrap();
    assert!(!store.contains(&staged_cid).await.unwrap());
    assert!(staging_is_empty().await);
}

#[tokio::test]
async fn local_store_contract_and_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::open(dir.path()).await.unwrap();
    let tmp = dir.path().join("tmp");
    contract(&store, async || std::fs::read_dir(&tmp).unwrap().next().is_none()).await;

    // Corruption on disk is refused by every verified read.
    let data = bytes(4096, 9);
    let stored = store.put(chunks(&data, 1000), 1 << 20).await.unwrap();
    let path = store.blob_path(&stored.cid);
    let mut damaged = data.clone();
    damaged[4000] ^= 1;
    std::fs::write(&path, &damaged).unwrap();
    assert!(matches!(store.get(&stored.cid).await, Err(BlobError::Corrupted { .. })));
    assert!(matches!(store.verify(&stored.cid).await, Err(BlobError::Corrupted { .. })));
    assert!(matches!(store.get_range(&stored.cid, 0..1).await, Err(BlobError::Corrupted { .. })));
    let (_, stream) = store.open(&stored.cid).await.unwrap();
    let err = stream.try_collect::<Vec<Bytes>>().await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("corrupted"), "{err}");
    // A truncated copy too.
    std::fs::write(&path, &data[..100]).unwrap();
    assert!(matches!(store.get(&stored.cid).await, Err(BlobError::Corrupted { .. })));
    // Putting the right bytes again repairs it.
    let again = store.put(chunks(&data, 1000), 1 << 20).await.unwrap();
    assert!(!again.deduplicated);
    assert_eq!(store.get(&stored.cid).await.unwrap().as_ref(), data.as_slice());
}

#[tokio::test]
async fn local_store_is_exclusive_and_purges_staging_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = LocalBlobStore::open(dir.path()).await.unwrap();
        let err = LocalBlobStore::open(dir.path()).await.unwrap_err();
        assert!(err.to_string().contains("in use by another process"), "{err}");
        drop(store);
    }
    std::fs::write(dir.path().join("tmp").join("123-leftover.part"), b"half an upload").unwrap();
    let store = LocalBlobStore::open(dir.path()).await.unwrap();
    assert!(store.list().await.unwrap().is_empty());
    assert_eq!(files_under(dir.path()), vec!["LOCK".to_string()]);
}

#[tokio::test]
async fn object_store_in_memory_contract_and_corruption() {
    let memory = Arc::new(object_store::memory::InMemory::new());
    let store = ObjectBlobStore::new(memory.clone(), "hub");
    let backend = memory.clone();
    contract(&store, async || {
        let tmp: Vec<_> =
            backend.list(Some(&ObjectPath::from("hub/tmp"))).try_collect().await.unwrap();
        tmp.is_empty()
    })
    .await;

    let data = bytes(4096, 9);
    let stored = store.put(chunks(&data, 1000), 1 << 20).await.unwrap();
    let mut damaged = data.clone();
    damaged[0] ^= 1;
    memory.put(&store.blob_path(&stored.cid), damaged.into()).await.unwrap();
    assert!(matches!(store.get(&stored.cid).await, Err(BlobError::Corrupted { .. })));
    assert!(matches!(store.get_range(&stored.cid, 0..1).await, Err(BlobError::Corrupted { .. })));
}

#[tokio::test]
async fn object_store_local_filesystem_contract() {
    let bucket = tempfile::tempdir().unwrap();
    let fs =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(bucket.path()).unwrap());
    let store = ObjectBlobStore::new(fs, "models");
    let root = bucket.path().to_path_buf();
    contract(&store, async || files_under(&root).iter().all(|f| f.starts_with("models/blobs/")))
        .await;
}

#[tokio::test]
async fn object_store_purges_only_stale_staging() {
    let memory = Arc::new(object_store::memory::InMemory::new());
    memory
        .put(&ObjectPath::from("tmp/abandoned.part"), Bytes::from_static(b"x").into())
        .await
        .unwrap();
    let store = ObjectBlobStore::new(memory.clone(), "");
    // Fresh staging objects may belong to another process sharing the bucket: kept.
    assert_eq!(store.purge_staging().await.unwrap(), 0);
    let store = store.with_staging_ttl_secs(0);
    assert_eq!(store.purge_staging().await.unwrap(), 1);
    let left: Vec<_> = memory.list(None).try_collect().await.unwrap();
    assert!(left.is_empty());
}
