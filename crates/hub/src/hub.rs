//! [`Hub`]: the blob store and the index together, with the rule that ties them.
//!
//! # Upload order (crash safety)
//!
//! ```text
//!  stage blob (tmp) ──► checks (declared CID, signature, version exists, no conflicting file)
//!        │ fail: discard, nothing stored
//!        ▼
//!  commit blob (durable, visible) ──► index.add_file (one durable redb transaction) ──► 201
//! ```
//!
//! A kill before the blob commit leaves only a staging leftover, removed when the hub opens again. A kill
//! between the blob commit and the index write leaves an orphan blob that no metadata points at (harmless;
//! removed by [`Hub::collect_garbage`], which [`HubConfig::collect_garbage_on_open`] runs at open). Metadata
//! never points at a blob that is not durable.

use std::{path::Path, sync::Arc};

use alloy::primitives::Address;
use ogn_types::ModelCid;

use crate::{
    auth::{DEFAULT_WINDOW_SECS, unix_now},
    blob::{BlobStore, ByteStream, DEFAULT_MAX_FILE_SIZE, LocalBlobStore, StagedBlob},
    error::HubError,
    index::{FileAdded, FileRecord, Index, ModelRecord, NewModel, VersionRecord},
    names::{validate_filename, validate_model_name},
    version::Version,
};

/// Settings of a hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// Largest accepted file in bytes (default 1 GiB), enforced while the bytes stream in.
    pub max_file_size: u64,
    /// Accepted clock difference for signed requests, in seconds (default 300).
    pub auth_window_secs: u64,
    /// Delete blobs no file record points at when opening (default false: only safe when no other
    /// process writes to the same blob store).
    pub collect_garbage_on_open: bool,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            auth_window_secs: DEFAULT_WINDOW_SECS,
            collect_garbage_on_open: false,
        }
    }
}

/// What a reference names (see [`Hub::resolve`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A model version and its files.
    Version {
        /// Model name.
        name: String,
        /// Version.
        version: Version,
        /// Its files.
        files: Vec<FileRecord>,
    },
    /// A stored blob named by its CID.
    Blob {
        /// The CID.
        cid: ModelCid,
        /// Its size.
        size: u64,
    },
}

/// The model hub: repositories, versions and content-addressed files.
#[derive(Debug)]
pub struct Hub {
    index: Index,
    blobs: Arc<dyn BlobStore>,
    config: HubConfig,
}

impl Hub {
    /// Opens a hub kept in one directory: `dir/index.redb` and a [`LocalBlobStore`] in `dir`.
    pub async fn open_local(dir: impl AsRef<Path>, config: HubConfig) -> Result<Self, HubError> {
        let dir = dir.as_ref();
        // The blob store takes the directory lock first, so two processes never share `dir`.
        let blobs = LocalBlobStore::open(dir).await?;
        Self::open(dir.join("index.redb"), Arc::new(blobs), config).await
    }

    /// Opens a hub with its index at `index_path` and blobs in `blobs`. Removes staging leftovers and,
    /// if configured, orphan blobs.
    pub async fn open(
        index_path: impl AsRef<Path>,
        blobs: Arc<dyn BlobStore>,
        config: HubConfig,
    ) -> Result<Self, HubError> {
        let path = index_path.as_ref().to_path_buf();
        let index = tokio::task::spawn_blocking(move || Index::open(path))
            .await
            .map_err(|e| HubError::Index(e.to_string()))??;
        blobs.purge_staging().await?;
        let hub = Self { index, blobs, config };
        if hub.config.collect_garbage_on_open {
            let removed = hub.collect_garbage().await?;
            if !removed.is_empty() {
                tracing::info!(count = removed.len(), "removed orphan blobs");
            }
        }
        Ok(hub)
    }

    /// The settings.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// The blob store.
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    /// The metadata index (blocking API).
    pub fn index(&self) -> &Index {
        &self.index
    }

    async fn with_index<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Index) -> Result<T, HubError> + Send + 'static,
    ) -> Result<T, HubError> {
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || f(&index))
            .await
            .map_err(|e| HubError::Index(e.to_string()))?
    }

    /// Creates a model owned by `owner`.
    pub async fn create_model(
        &self,
        new: NewModel,
        owner: Address,
    ) -> Result<ModelRecord, HubError> {
        self.with_index(move |i| i.create_model(&new, owner, unix_now())).await
    }

    /// A model.
    pub async fn model(&self, name: &str) -> Result<ModelRecord, HubError> {
        let name = name.to_string();
        self.with_index(move |i| i.model(&name)).await
    }

    /// A model and its versions (oldest first).
    pub async fn model_with_versions(
        &self,
        name: &str,
    ) -> Result<(ModelRecord, Vec<VersionRecord>), HubError> {
        let name = name.to_string();
        self.with_index(move |i| Ok((i.model(&name)?, i.versions(&name)?))).await
    }

    /// All models.
    pub async fn list_models(&self) -> Result<Vec<ModelRecord>, HubError> {
        self.with_index(|i| i.list_models()).await
    }

    /// Fails with 403 [`HubError::NotOwner`] unless `signer` owns the model.
    pub async fn check_owner(&self, name: &str, signer: Address) -> Result<ModelRecord, HubError> {
        let model = self.model(name).await?;
        if model.owner != signer {
            return Err(HubError::NotOwner { name: model.name, owner: model.owner, signer });
        }
        Ok(model)
    }

    /// Creates the next version (`1.00` first; minor or major bump after).
    pub async fn create_version(
        &self,
        name: &str,
        notes: &str,
        is_major: bool,
    ) -> Result<VersionRecord, HubError> {
        let (name, notes) = (name.to_string(), notes.to_string());
        self.with_index(move |i| i.create_version(&name, &notes, is_major, unix_now())).await
    }

    /// One version.
    pub async fn version(&self, name: &str, version: Version) -> Result<VersionRecord, HubError> {
        let name = name.to_string();
        self.with_index(move |i| i.version(&name, version)).await
    }

    /// The files of a version.
    pub async fn files(&self, name: &str, version: Version) -> Result<Vec<FileRecord>, HubError> {
        let name = name.to_string();
        self.with_index(move |i| i.files(&name, version)).await
    }

    /// Streams bytes into staging under the configured per-file limit.
    pub async fn stage(&self, data: ByteStream<'_>) -> Result<StagedBlob, HubError> {
        Ok(self.blobs.stage(data, self.config.max_file_size).await?)
    }

    /// Commits staged bytes as file `filename` of a version: checks the declared CID, that the version
    /// exists and that the filename is free (or holds the same bytes), makes the blob durable, then
    /// records it. On any refusal the staged bytes are discarded and nothing is stored.
    pub async fn commit_file(
        &self,
        name: &str,
        version: Version,
        filename: &str,
        staged: StagedBlob,
        expected: Option<ModelCid>,
    ) -> Result<FileAdded, HubError> {
        let checks = async {
            validate_model_name(name)?;
            validate_filename(filename)?;
            if let Some(expected) = expected
                && expected != staged.cid()
            {
                return Err(
                    crate::blob::BlobError::CidMismatch { expected, actual: staged.cid() }.into()
                );
            }
            let existing = self.files(name, version).await?;
            if let Some(f) = existing.iter().find(|f| f.filename == filename) {
                if f.cid == staged.cid() {
                    return Ok(Some(f.clone()));
                }
                return Err(HubError::FileExists {
                    name: name.to_string(),
                    version,
                    filename: filename.to_string(),
                    existing: f.cid,
                });
            }
            Ok(None)
        };
        match checks.await {
            Err(e) => {
                self.blobs.discard(staged).await?;
                Err(e)
            }
            Ok(Some(existing)) => {
                // Same bytes already recorded under this name; make sure the blob is there too.
                self.blobs.commit(staged).await?;
                Ok(FileAdded::AlreadyPresent(existing))
            }
            Ok(None) => {
                let stored = self.blobs.commit(staged).await?;
                let record = FileRecord {
                    filename: filename.to_string(),
                    cid: stored.cid,
                    size: stored.size,
                    created_at: unix_now(),
                };
                let name = name.to_string();
                self.with_index(move |i| i.add_file(&name, version, &record)).await
            }
        }
    }

    /// Streams `data` in as file `filename` of a version (stage, then [`Hub::commit_file`]).
    pub async fn add_file(
        &self,
        name: &str,
        version: Version,
        filename: &str,
        data: ByteStream<'_>,
        expected: Option<ModelCid>,
    ) -> Result<FileAdded, HubError> {
        validate_filename(filename)?;
        self.version(name, version).await?;
        let staged = self.stage(data).await?;
        self.commit_file(name, version, filename, staged, expected).await
    }

    /// Resolves `name@1.00` (a version), `name` (its latest version) or a bare CID (a stored blob).
    pub async fn resolve(&self, reference: &str) -> Result<Resolved, HubError> {
        if let Ok(cid) = reference.parse::<ModelCid>() {
            let size = self
                .blobs
                .size(&cid)
                .await?
                .ok_or(HubError::Blob(crate::blob::BlobError::NotFound(cid)))?;
            return Ok(Resolved::Blob { cid, size });
        }
        let (name, version) = match reference.split_once('@') {
            Some((name, v)) => (name, Some(v.parse::<Version>()?)),
            None => (reference, None),
        };
        let version = match version {
            Some(v) => v,
            None => {
                let (_, versions) = self.model_with_versions(name).await?;
                versions.last().map(|v| v.version).ok_or_else(|| {
                    HubError::BadRequest(format!("model \"{name}\" has no versions yet"))
                })?
            }
        };
        let files = self.files(name, version).await?;
        Ok(Resolved::Version { name: name.to_string(), version, files })
    }

    /// Deletes blobs that no file record points at; returns their CIDs. Safe only while no upload is in
    /// flight against the same blob store (an upload's blob is committed just before its record).
    pub async fn collect_garbage(&self) -> Result<Vec<ModelCid>, HubError> {
        let referenced = self.with_index(|i| i.referenced_cids()).await?;
        let mut removed = Vec::new();
        for cid in self.blobs.list().await? {
            if !referenced.contains(&cid) {
                self.blobs.delete(&cid).await?;
                removed.push(cid);
            }
        }
        Ok(removed)
    }
}
