//! Content-addressed blob storage: bytes named by their [`ModelCid`].
//!
//! # Write path (two phases)
//!
//! ```text
//!  byte stream ──► stage(): hash sha2-256 + count while writing to a staging location
//!                  │  over the limit → TooLarge at once; staging location removed
//!                  ▼
//!             StagedBlob {cid, size}  ── discard() / drop ──► staging location removed
//!                  │ commit()
//!                  ▼
//!             blobs/<cid>  (already there → deduplicated, staging removed)
//! ```
//!
//! Splitting `stage` from `commit` lets a caller check things that are known only after the last byte
//! (a declared CID, a request signature over the whole body) and store nothing when a check fails.
//!
//! # Invariants
//! - A blob is visible under `blobs/<cid>` only once all its bytes are durable; a reader never sees a
//!   partial blob. [`LocalBlobStore`]: write to `tmp/` → fsync file → rename → fsync directory.
//!   [`ObjectBlobStore`]: multipart upload to `tmp/` (invisible until completed) → copy to `blobs/`.
//! - Identical bytes are stored once. Committing bytes that are already stored re-verifies the stored
//!   copy and replaces it if it is damaged.
//! - Reads re-hash: [`BlobStore::get`], [`BlobStore::verify`] and [`BlobStore::get_range`] refuse a blob whose
//!   bytes no longer hash to its CID ([`BlobError::Corrupted`]); [`BlobStore::open`] hashes while streaming
//!   and fails the stream at its end. A ranged read verifies the whole blob first, so it costs a full read.
//! - Staging leftovers of a killed process are removed by [`BlobStore::purge_staging`] (the hub calls it
//!   when it opens).

use std::{
    fmt, io,
    ops::Range,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart, path::Path as ObjectPath};
use ogn_types::ModelCid;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

/// A stream of byte chunks, as uploads arrive and downloads leave.
pub type ByteStream<'a> = BoxStream<'a, io::Result<Bytes>>;

/// Default per-file limit: 1 GiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;

/// What can go wrong storing or reading a blob.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The upload passed the per-file limit; nothing was stored.
    #[error("file exceeds the per-file limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The bytes do not hash to the CID the caller declared; nothing was stored.
    #[error("CID mismatch: declared {expected} but the bytes hash to {actual}")]
    CidMismatch {
        /// The CID the caller declared.
        expected: ModelCid,
        /// The CID of the bytes received.
        actual: ModelCid,
    },
    /// No blob with this CID.
    #[error("blob {0} not found")]
    NotFound(ModelCid),
    /// The stored bytes no longer hash to their CID.
    #[error("blob {cid} is corrupted: its stored bytes hash to {actual}")]
    Corrupted {
        /// The blob's id.
        cid: ModelCid,
        /// What the stored bytes hash to now.
        actual: ModelCid,
    },
    /// A byte range outside the blob.
    #[error("range {start}..{end} is outside blob {cid} of {size} bytes")]
    OutOfRange {
        /// The blob.
        cid: ModelCid,
        /// Requested start.
        start: u64,
        /// Requested end (exclusive).
        end: u64,
        /// The blob's size.
        size: u64,
    },
    /// Reading the incoming bytes failed (the sender went away, a malformed body, …).
    #[error("reading the upload failed: {0}")]
    Source(io::Error),
    /// The storage backend failed.
    #[error("blob storage failed: {0}")]
    Storage(String),
}

impl From<io::Error> for BlobError {
    fn from(e: io::Error) -> Self {
        BlobError::Storage(e.to_string())
    }
}

impl From<object_store::Error> for BlobError {
    fn from(e: object_store::Error) -> Self {
        BlobError::Storage(e.to_string())
    }
}

/// A blob once committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredBlob {
    /// Its id.
    pub cid: ModelCid,
    /// Its size in bytes.
    pub size: u64,
    /// True when identical bytes were already stored and this upload added nothing.
    pub deduplicated: bool,
}

/// Bytes written to a staging location and hashed, not yet visible. Dropping it removes the staging
/// location (best effort); [`BlobStore::commit`] makes it visible, [`BlobStore::discard`] removes it.
pub struct StagedBlob {
    cid: ModelCid,
    size: u64,
    guard: StageGuard,
}

impl fmt::Debug for StagedBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StagedBlob").field("cid", &self.cid).field("size", &self.size).finish()
    }
}

impl StagedBlob {
    /// The CID of the staged bytes.
    pub fn cid(&self) -> ModelCid {
        self.cid
    }

    /// Number of staged bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// Removes a staging location when dropped, unless disarmed.
enum StageGuard {
    Local(Option<PathBuf>),
    Object(Option<(Arc<dyn ObjectStore>, ObjectPath)>),
}

impl StageGuard {
    fn local_path(&mut self) -> Option<PathBuf> {
        match self {
            StageGuard::Local(p) => p.take(),
            StageGuard::Object(_) => None,
        }
    }

    fn object_path(&mut self) -> Option<ObjectPath> {
        match self {
            StageGuard::Object(p) => p.take().map(|(_, p)| p),
            StageGuard::Local(_) => None,
        }
    }
}

impl Drop for StageGuard {
    fn drop(&mut self) {
        match self {
            StageGuard::Local(path) => {
                if let Some(path) = path.take() {
                    let _ = std::fs::remove_file(path);
                }
            }
            StageGuard::Object(target) => {
                if let Some((store, path)) = target.take()
                    && let Ok(rt) = tokio::runtime::Handle::try_current()
                {
                    rt.spawn(async move {
                        let _ = store.delete(&path).await;
                    });
                }
            }
        }
    }
}

/// A content-addressed blob store. See the [module docs](self) for the write path and invariants.
#[async_trait]
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// Streams `data` to a staging location, hashing as it goes. Fails with [`BlobError::TooLarge`] as soon
    /// as more than `limit` bytes have arrived; on any failure the staging location is removed.
    async fn stage(&self, data: ByteStream<'_>, limit: u64) -> Result<StagedBlob, BlobError>;

    /// Makes staged bytes visible under their CID (durably), or notes they were already there.
    async fn commit(&self, staged: StagedBlob) -> Result<StoredBlob, BlobError>;

    /// Removes staged bytes.
    async fn discard(&self, staged: StagedBlob) -> Result<(), BlobError>;

    /// The size of a stored blob, `None` when absent. Does not verify the bytes.
    async fn size(&self, cid: &ModelCid) -> Result<Option<u64>, BlobError>;

    /// Streams stored bytes `range` of a blob without verifying them.
    async fn read_unverified(
        &self,
        cid: &ModelCid,
        range: Range<u64>,
    ) -> Result<ByteStream<'static>, BlobError>;

    /// Deletes a blob (absent is not an error).
    async fn delete(&self, cid: &ModelCid) -> Result<(), BlobError>;

    /// All stored blobs.
    async fn list(&self) -> Result<Vec<ModelCid>, BlobError>;

    /// Removes leftovers of uploads that never finished (a killed process). Returns how many.
    async fn purge_staging(&self) -> Result<usize, BlobError>;

    /// Stages and commits `data`.
    async fn put(&self, data: ByteStream<'_>, limit: u64) -> Result<StoredBlob, BlobError> {
        let staged = self.stage(data, limit).await?;
        self.commit(staged).await
    }

    /// Stages `data` and commits it only if it hashes to `expected`; otherwise stores nothing and fails
    /// with [`BlobError::CidMismatch`].
    async fn put_expecting(
        &self,
        data: ByteStream<'_>,
        limit: u64,
        expected: &ModelCid,
    ) -> Result<StoredBlob, BlobError> {
        let staged = self.stage(data, limit).await?;
        if staged.cid() != *expected {
            let actual = staged.cid();
            self.discard(staged).await?;
            return Err(BlobError::CidMismatch { expected: *expected, actual });
        }
        self.commit(staged).await
    }

    /// Whether a blob is stored.
    async fn contains(&self, cid: &ModelCid) -> Result<bool, BlobError> {
        Ok(self.size(cid).await?.is_some())
    }

    /// Reads a whole blob and checks that it hashes to its CID. Returns its size.
    async fn verify(&self, cid: &ModelCid) -> Result<u64, BlobError> {
        let size = self.size(cid).await?.ok_or(BlobError::NotFound(*cid))?;
        let mut stream = self.read_unverified(cid, 0..size).await?;
        let mut hasher = Sha256::new();
        while let Some(chunk) = stream.next().await {
            hasher.update(&chunk?);
        }
        let actual = ModelCid::from_sha256(hasher.finalize().into());
        if actual != *cid {
            return Err(BlobError::Corrupted { cid: *cid, actual });
        }
        Ok(size)
    }

    /// A whole blob in memory, verified.
    async fn get(&self, cid: &ModelCid) -> Result<Bytes, BlobError> {
        let size = self.size(cid).await?.ok_or(BlobError::NotFound(*cid))?;
        let chunks: Vec<Bytes> = self.read_unverified(cid, 0..size).await?.try_collect().await?;
        let bytes = Bytes::from(chunks.concat());
        let actual = ModelCid::for_bytes(&bytes);
        if actual != *cid {
            return Err(BlobError::Corrupted { cid: *cid, actual });
        }
        Ok(bytes)
    }

    /// Streams a whole blob, hashing as it goes: the stream ends with an [`io::ErrorKind::InvalidData`] error
    /// instead of its normal end when the bytes do not hash to the CID. Returns the size and the stream.
    async fn open(&self, cid: &ModelCid) -> Result<(u64, ByteStream<'static>), BlobError> {
        let size = self.size(cid).await?.ok_or(BlobError::NotFound(*cid))?;
        let inner = self.read_unverified(cid, 0..size).await?;
        Ok((size, verifying_stream(*cid, inner)))
    }

    /// Verifies the whole blob, then streams bytes `range` of it.
    async fn get_range(
        &self,
        cid: &ModelCid,
        range: Range<u64>,
    ) -> Result<ByteStream<'static>, BlobError> {
        let size = self.verify(cid).await?;
        if range.start > range.end || range.end > size {
            return Err(BlobError::OutOfRange {
                cid: *cid,
                start: range.start,
                end: range.end,
                size,
            });
        }
        self.read_unverified(cid, range).await
    }
}

/// Wraps a stream of a whole blob so that it fails at its end when the bytes do not hash to `cid`.
pub fn verifying_stream(cid: ModelCid, inner: ByteStream<'static>) -> ByteStream<'static> {
    let state = Some((inner, Sha256::new()));
    futures::stream::unfold(state, move |state| async move {
        let (mut inner, mut hasher) = state?;
        match inner.next().await {
            Some(Ok(chunk)) => {
                hasher.update(&chunk);
                Some((Ok(chunk), Some((inner, hasher))))
            }
            Some(Err(e)) => Some((Err(e), None)),
            None => {
                let actual = ModelCid::from_sha256(hasher.finalize().into());
                if actual == cid {
                    None
                } else {
                    let e = BlobError::Corrupted { cid, actual };
                    Some((Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())), None))
                }
            }
        }
    })
    .boxed()
}

/// Turns an [`AsyncRead`] into a [`ByteStream`] (64 KiB chunks).
pub fn reader_stream<'a>(reader: impl AsyncRead + Send + 'a) -> ByteStream<'a> {
    ReaderStream::with_capacity(reader, 64 * 1024).boxed()
}

/// A name for a staging location, unique within this process and very likely across processes.
fn staging_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{}-{}-{}.part", std::process::id(), nanos, COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Adds `chunk` to the running size, failing once the total passes `limit`.
fn count(size: &mut u64, chunk: &Bytes, limit: u64) -> Result<(), BlobError> {
    *size = size.saturating_add(chunk.len() as u64);
    if *size > limit { Err(BlobError::TooLarge { limit }) } else { Ok(()) }
}

// ---------------------------------------------------------------------------------------------------
// Local directory
// ---------------------------------------------------------------------------------------------------

/// Blobs as files: `dir/blobs/<cid>`, uploads in flight in `dir/tmp/`.
///
/// Opening takes an exclusive lock on `dir/LOCK` (so two processes never share a directory and
/// purging `tmp/` cannot hit another process's upload) and empties `tmp/`.
#[derive(Debug)]
pub struct LocalBlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
    _lock: std::fs::File,
}

impl LocalBlobStore {
    /// Opens (creating if needed) the store in `dir` and removes staging leftovers.
    pub async fn open(dir: impl AsRef<Path>) -> Result<Self, BlobError> {
        let dir = dir.as_ref().to_path_buf();
        let store = tokio::task::spawn_blocking(move || -> Result<Self, BlobError> {
            std::fs::create_dir_all(&dir)?;
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join("LOCK"))?;
            lock.try_lock().map_err(|e| {
                BlobError::Storage(format!(
                    "blob directory {} is in use by another process: {e}",
                    dir.display()
                ))
            })?;
            let blobs = dir.join("blobs");
            let tmp = dir.join("tmp");
            std::fs::create_dir_all(&blobs)?;
            std::fs::create_dir_all(&tmp)?;
            Ok(Self { blobs, tmp, _lock: lock })
        })
        .await
        .map_err(|e| BlobError::Storage(e.to_string()))??;
        store.purge_staging().await?;
        Ok(store)
    }

    /// Where a blob's file lives.
    pub fn blob_path(&self, cid: &ModelCid) -> PathBuf {
        self.blobs.join(cid.to_string())
    }

    /// The staging directory (`dir/tmp`).
    pub fn staging_dir(&self) -> &Path {
        &self.tmp
    }
}

async fn sync_dir(dir: PathBuf) -> Result<(), BlobError> {
    tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all())
        .await
        .map_err(|e| BlobError::Storage(e.to_string()))??;
    Ok(())
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn stage(&self, mut data: ByteStream<'_>, limit: u64) -> Result<StagedBlob, BlobError> {
        let path = self.tmp.join(staging_name());
        // Armed before the file exists: a failure or a dropped future removes whatever was written.
        let guard = StageGuard::Local(Some(path.clone()));
        let mut file =
            tokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = data.next().await {
            let chunk = chunk.map_err(BlobError::Source)?;
            count(&mut size, &chunk, limit)?;
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        Ok(StagedBlob { cid: ModelCid::from_sha256(hasher.finalize().into()), size, guard })
    }

    async fn commit(&self, mut staged: StagedBlob) -> Result<StoredBlob, BlobError> {
        let (cid, size) = (staged.cid, staged.size);
        let Some(tmp) = staged.guard.local_path() else {
            return Err(BlobError::Storage("staged blob belongs to another store".into()));
        };
        let dest = self.blob_path(&cid);
        // An existing copy that verifies is the same bytes; a damaged one is replaced by the fresh copy.
        if self.verify(&cid).await.is_ok() {
            tokio::fs::remove_file(&tmp).await?;
            return Ok(StoredBlob { cid, size, deduplicated: true });
        }
        if let Err(e) = tokio::fs::rename(&tmp, &dest).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e.into());
        }
        sync_dir(self.blobs.clone()).await?;
        Ok(StoredBlob { cid, size, deduplicated: false })
    }

    async fn discard(&self, mut staged: StagedBlob) -> Result<(), BlobError> {
        if let Some(tmp) = staged.guard.local_path() {
            match tokio::fs::remove_file(&tmp).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }

    async fn size(&self, cid: &ModelCid) -> Result<Option<u64>, BlobError> {
        match tokio::fs::metadata(self.blob_path(cid)).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn read_unverified(
        &self,
        cid: &ModelCid,
        range: Range<u64>,
    ) -> Result<ByteStream<'static>, BlobError> {
        let mut file = match tokio::fs::File::open(self.blob_path(cid)).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(BlobError::NotFound(*cid)),
            Err(e) => return Err(e.into()),
        };
        let size = file.metadata().await?.len();
        if range.start > range.end || range.end > size {
            return Err(BlobError::OutOfRange {
                cid: *cid,
                start: range.start,
                end: range.end,
                size,
            });
        }
        file.seek(io::SeekFrom::Start(range.start)).await?;
        Ok(reader_stream(file.take(range.end - range.start)))
    }

    async fn delete(&self, cid: &ModelCid) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.blob_path(cid)).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn list(&self) -> Result<Vec<ModelCid>, BlobError> {
        let mut dir = tokio::fs::read_dir(&self.blobs).await?;
        let mut out = Vec::new();
        while let Some(entry) = dir.next_entry().await? {
            if let Some(cid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                out.push(cid);
            }
        }
        out.sort();
        Ok(out)
    }

    async fn purge_staging(&self) -> Result<usize, BlobError> {
        let mut dir = tokio::fs::read_dir(&self.tmp).await?;
        let mut removed = 0;
        while let Some(entry) = dir.next_entry().await? {
            tokio::fs::remove_file(entry.path()).await?;
            removed += 1;
        }
        if removed > 0 {
            sync_dir(self.tmp.clone()).await?;
        }
        Ok(removed)
    }
}

// ---------------------------------------------------------------------------------------------------
// object_store (S3-compatible and others)
// ---------------------------------------------------------------------------------------------------

/// Blobs in any [`ObjectStore`] (S3, GCS, Azure, local filesystem, memory): `{prefix}/blobs/<cid>`,
/// uploads in flight as multipart uploads to `{prefix}/tmp/<name>`.
///
/// An unfinished multipart upload is never visible; a completed staging object that was never committed
/// (the process died between the two steps) is removed by [`BlobStore::purge_staging`] once it is older
/// than the staging TTL, so several hub processes may share one bucket.
#[derive(Debug, Clone)]
pub struct ObjectBlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    staging_ttl_secs: u64,
}

/// Default age after which [`ObjectBlobStore::purge_staging`](BlobStore::purge_staging) removes staging
/// objects: one day.
pub const DEFAULT_STAGING_TTL_SECS: u64 = 24 * 3600;

impl ObjectBlobStore {
    /// A store under `prefix` (may be empty) of `store`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        Self {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            staging_ttl_secs: DEFAULT_STAGING_TTL_SECS,
        }
    }

    /// Sets the age after which staging objects count as abandoned.
    pub fn with_staging_ttl_secs(mut self, secs: u64) -> Self {
        self.staging_ttl_secs = secs;
        self
    }

    fn path(&self, dir: &str, name: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(format!("{dir}/{name}"))
        } else {
            ObjectPath::from(format!("{}/{dir}/{name}", self.prefix))
        }
    }

    fn dir(&self, dir: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(dir)
        } else {
            ObjectPath::from(format!("{}/{dir}", self.prefix))
        }
    }

    /// Where a blob lives in the object store.
    pub fn blob_path(&self, cid: &ModelCid) -> ObjectPath {
        self.path("blobs", &cid.to_string())
    }
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    async fn stage(&self, mut data: ByteStream<'_>, limit: u64) -> Result<StagedBlob, BlobError> {
        let path = self.path("tmp", &staging_name());
        let upload = self.store.put_multipart(&path).await?;
        let mut writer = WriteMultipart::new(upload);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let result: Result<(), BlobError> = async {
            while let Some(chunk) = data.next().await {
                let chunk = chunk.map_err(BlobError::Source)?;
                count(&mut size, &chunk, limit)?;
                hasher.update(&chunk);
                writer.wait_for_capacity(4).await?;
                writer.put(chunk);
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            let _ = writer.abort().await;
            return Err(e);
        }
        // Armed from here: the object exists once `finish` succeeds.
        let guard = StageGuard::Object(Some((self.store.clone(), path)));
        writer.finish().await?;
        Ok(StagedBlob { cid: ModelCid::from_sha256(hasher.finalize().into()), size, guard })
    }

    async fn commit(&self, mut staged: StagedBlob) -> Result<StoredBlob, BlobError> {
        let (cid, size) = (staged.cid, staged.size);
        let Some(tmp) = staged.guard.object_path() else {
            return Err(BlobError::Storage("staged blob belongs to another store".into()));
        };
        let dest = self.blob_path(&cid);
        // An existing copy that verifies is the same bytes; a damaged one is replaced by the fresh copy.
        if self.verify(&cid).await.is_ok() {
            self.store.delete(&tmp).await?;
            return Ok(StoredBlob { cid, size, deduplicated: true });
        }
        if let Err(e) = self.store.rename(&tmp, &dest).await {
            let _ = self.store.delete(&tmp).await;
            return Err(e.into());
        }
        Ok(StoredBlob { cid, size, deduplicated: false })
    }

    async fn discard(&self, mut staged: StagedBlob) -> Result<(), BlobError> {
        if let Some(tmp) = staged.guard.object_path() {
            match self.store.delete(&tmp).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn size(&self, cid: &ModelCid) -> Result<Option<u64>, BlobError> {
        match self.store.head(&self.blob_path(cid)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn read_unverified(
        &self,
        cid: &ModelCid,
        range: Range<u64>,
    ) -> Result<ByteStream<'static>, BlobError> {
        let size = self.size(cid).await?.ok_or(BlobError::NotFound(*cid))?;
        if range.start > range.end || range.end > size {
            return Err(BlobError::OutOfRange {
                cid: *cid,
                start: range.start,
                end: range.end,
                size,
            });
        }
        if range.is_empty() {
            return Ok(futures::stream::empty().boxed());
        }
        let options = object_store::GetOptions::new().with_range(Some(range));
        let result = match self.store.get_opts(&self.blob_path(cid), options).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Err(BlobError::NotFound(*cid)),
            Err(e) => return Err(e.into()),
        };
        Ok(result.into_stream().map_err(io::Error::other).boxed())
    }

    async fn delete(&self, cid: &ModelCid) -> Result<(), BlobError> {
        match self.store.delete(&self.blob_path(cid)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn list(&self) -> Result<Vec<ModelCid>, BlobError> {
        let metas: Vec<_> = self.store.list(Some(&self.dir("blobs"))).try_collect().await?;
        let mut out: Vec<ModelCid> =
            metas.iter().filter_map(|m| m.location.filename()?.parse().ok()).collect();
        out.sort();
        Ok(out)
    }

    async fn purge_staging(&self) -> Result<usize, BlobError> {
        let metas: Vec<_> = self.store.list(Some(&self.dir("tmp"))).try_collect().await?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut removed = 0;
        for meta in metas {
            let modified = u64::try_from(meta.last_modified.timestamp()).unwrap_or(0);
            if now.saturating_sub(modified) >= self.staging_ttl_secs {
                match self.store.delete(&meta.location).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => removed += 1,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(removed)
    }
}
