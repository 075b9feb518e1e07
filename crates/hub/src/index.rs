//! The metadata index in `redb`: models, versions and the files of each version.
//!
//! Tables (values are JSON):
//!
//! | table      | key                                  | value            |
//! |------------|--------------------------------------|------------------|
//! | `models`   | name                                 | [`ModelRecord`]  |
//! | `versions` | (name, major, minor)                 | [`VersionRecord`]|
//! | `files`    | (name, major, minor, filename)       | [`FileRecord`]   |
//!
//! Every write is one redb transaction committed with immediate durability, so after a crash the index
//! holds exactly the writes that returned. The index never checks blobs; the [`Hub`](crate::Hub) adds a
//! file's record only after its blob is durable.

use std::{collections::BTreeSet, path::Path, sync::Arc};

use alloy::primitives::Address;
use ogn_types::ModelCid;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::{
    error::HubError,
    names::{
        MAX_SHORT_TEXT_LEN, MAX_TAGS, MAX_TEXT_LEN, validate_filename, validate_model_name,
        validate_tag, validate_text,
    },
    version::Version,
};

const MODELS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("models");
const VERSIONS: TableDefinition<'_, (&str, u32, u32), &[u8]> = TableDefinition::new("versions");
const FILES: TableDefinition<'_, (&str, u32, u32, &str), &[u8]> = TableDefinition::new("files");

/// What a caller supplies to create a model repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewModel {
    /// Unique name (see [`validate_model_name`]).
    pub name: String,
    /// Free-text description.
    #[serde(default)]
    pub description: String,
    /// What the model does (`classification`, `regression`, `llm`, …).
    #[serde(default)]
    pub task: String,
    /// Licence identifier (`MIT`, `Apache-2.0`, …).
    #[serde(default)]
    pub license: String,
    /// Search tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl NewModel {
    /// A model with just a name and description.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self { name: name.into(), description: description.into(), ..Self::default() }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), HubError> {
        validate_model_name(&self.name)?;
        validate_text("description", &self.description, MAX_TEXT_LEN)?;
        validate_text("task", &self.task, MAX_SHORT_TEXT_LEN)?;
        validate_text("license", &self.license, MAX_SHORT_TEXT_LEN)?;
        if self.tags.len() > MAX_TAGS {
            return Err(HubError::BadRequest(format!("too many tags (at most {MAX_TAGS})")));
        }
        for tag in &self.tags {
            validate_tag(tag)?;
        }
        Ok(())
    }
}

/// A model repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelRecord {
    /// Unique name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Task.
    pub task: String,
    /// Licence.
    pub license: String,
    /// Tags.
    pub tags: Vec<String>,
    /// The address that created it; only it may add versions and files.
    #[serde(with = "address_serde")]
    pub owner: Address,
    /// Unix seconds.
    pub created_at: u64,
}

/// One version of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionRecord {
    /// `1.00`, `1.01`, `2.00`, … (OpenGradient's field name).
    #[serde(rename = "versionString")]
    pub version: Version,
    /// Release notes.
    pub notes: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// One file of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRecord {
    /// Filename within the version.
    pub filename: String,
    /// The file's id (OpenGradient's field name).
    #[serde(rename = "ipfsCid")]
    pub cid: ModelCid,
    /// Size in bytes.
    pub size: u64,
    /// Unix seconds.
    pub created_at: u64,
}

/// Result of adding a file record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAdded {
    /// A new record.
    Created(FileRecord),
    /// The same filename with the same CID was already there (idempotent re-upload).
    AlreadyPresent(FileRecord),
}

mod address_serde {
    use alloy::primitives::Address;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&a.to_checksum(None))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The redb-backed index. Cheap to clone; all methods are blocking (call them off the async runtime).
#[derive(Debug, Clone)]
pub struct Index {
    db: Arc<Database>,
}

impl Index {
    /// Opens or creates the index file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, HubError> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(MODELS)?;
        txn.open_table(VERSIONS)?;
        txn.open_table(FILES)?;
        txn.commit()?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Creates a model owned by `owner`.
    pub fn create_model(
        &self,
        new: &NewModel,
        owner: Address,
        now: u64,
    ) -> Result<ModelRecord, HubError> {
        new.validate()?;
        let record = ModelRecord {
            name: new.name.clone(),
            description: new.description.clone(),
            task: new.task.clone(),
            license: new.license.clone(),
            tags: new.tags.clone(),
            owner,
            created_at: now,
        };
        let txn = self.db.begin_write()?;
        {
            let mut models = txn.open_table(MODELS)?;
            if models.get(record.name.as_str())?.is_some() {
                return Err(HubError::ModelExists(record.name));
            }
            models.insert(record.name.as_str(), serde_json::to_vec(&record)?.as_slice())?;
        }
        txn.commit()?;
        Ok(record)
    }

    /// A model by name.
    pub fn model(&self, name: &str) -> Result<ModelRecord, HubError> {
        validate_model_name(name)?;
        let txn = self.db.begin_read()?;
        let models = txn.open_table(MODELS)?;
        let value = models.get(name)?.ok_or_else(|| HubError::ModelNotFound(name.to_string()))?;
        Ok(serde_json::from_slice(value.value())?)
    }

    /// All models, by name.
    pub fn list_models(&self) -> Result<Vec<ModelRecord>, HubError> {
        let txn = self.db.begin_read()?;
        let models = txn.open_table(MODELS)?;
        let mut out = Vec::new();
        for entry in models.iter()? {
            let (_, v) = entry?;
            out.push(serde_json::from_slice(v.value())?);
        }
        Ok(out)
    }

    /// Creates the next version of a model: `1.00` first, then a minor or major bump of the latest.
    pub fn create_version(
        &self,
        name: &str,
        notes: &str,
        is_major: bool,
        now: u64,
    ) -> Result<VersionRecord, HubError> {
        validate_model_name(name)?;
        validate_text("notes", notes, MAX_TEXT_LEN)?;
        let txn = self.db.begin_write()?;
        let record = {
            let models = txn.open_table(MODELS)?;
            if models.get(name)?.is_none() {
                return Err(HubError::ModelNotFound(name.to_string()));
            }
            let mut versions = txn.open_table(VERSIONS)?;
            let latest = versions
                .range((name, 0u32, 0u32)..=(name, u32::MAX, u32::MAX))?
                .next_back()
                .transpose()?
                .map(|(k, _)| {
                    let (_, major, minor) = k.value();
                    Version { major, minor }
                });
            let version = Version::after(latest, is_major)
                .ok_or_else(|| HubError::VersionOverflow(name.to_string()))?;
            let record = VersionRecord { version, notes: notes.to_string(), created_at: now };
            versions.insert(
                (name, version.major, version.minor),
                serde_json::to_vec(&record)?.as_slice(),
            )?;
            record
        };
        txn.commit()?;
        Ok(record)
    }

    /// The versions of a model, oldest first.
    pub fn versions(&self, name: &str) -> Result<Vec<VersionRecord>, HubError> {
        self.model(name)?;
        let txn = self.db.begin_read()?;
        let versions = txn.open_table(VERSIONS)?;
        let mut out = Vec::new();
        for entry in versions.range((name, 0u32, 0u32)..=(name, u32::MAX, u32::MAX))? {
            let (_, v) = entry?;
            out.push(serde_json::from_slice(v.value())?);
        }
        Ok(out)
    }

    /// One version of a model.
    pub fn version(&self, name: &str, version: Version) -> Result<VersionRecord, HubError> {
        self.model(name)?;
        let txn = self.db.begin_read()?;
        let versions = txn.open_table(VERSIONS)?;
        let value = versions
            .get((name, version.major, version.minor))?
            .ok_or_else(|| HubError::VersionNotFound { name: name.to_string(), version })?;
        Ok(serde_json::from_slice(value.value())?)
    }

    /// Records a file of a version. Call only once the file's blob is durable.
    pub fn add_file(
        &self,
        name: &str,
        version: Version,
        record: &FileRecord,
    ) -> Result<FileAdded, HubError> {
        validate_model_name(name)?;
        validate_filename(&record.filename)?;
        let txn = self.db.begin_write()?;
        {
            let versions = txn.open_table(VERSIONS)?;
            if versions.get((name, version.major, version.minor))?.is_none() {
                let models = txn.open_table(MODELS)?;
                if models.get(name)?.is_none() {
                    return Err(HubError::ModelNotFound(name.to_string()));
                }
                return Err(HubError::VersionNotFound { name: name.to_string(), version });
            }
            let mut files = txn.open_table(FILES)?;
            let key = (name, version.major, version.minor, record.filename.as_str());
            if let Some(existing) = files.get(key)? {
                let existing: FileRecord = serde_json::from_slice(existing.value())?;
                if existing.cid == record.cid {
                    return Ok(FileAdded::AlreadyPresent(existing));
                }
                return Err(HubError::FileExists {
                    name: name.to_string(),
                    version,
                    filename: record.filename.clone(),
                    existing: existing.cid,
                });
            }
            files.insert(key, serde_json::to_vec(record)?.as_slice())?;
        }
        txn.commit()?;
        Ok(FileAdded::Created(record.clone()))
    }

    /// The files of a version, by filename.
    pub fn files(&self, name: &str, version: Version) -> Result<Vec<FileRecord>, HubError> {
        self.version(name, version)?;
        let txn = self.db.begin_read()?;
        let files = txn.open_table(FILES)?;
        let mut out = Vec::new();
        for entry in files.range((name, version.major, version.minor, "")..)? {
            let (k, v) = entry?;
            let (n, major, minor, _) = k.value();
            if n != name || major != version.major || minor != version.minor {
                break;
            }
            out.push(serde_json::from_slice(v.value())?);
        }
        Ok(out)
    }

    /// Every CID some file record points at.
    pub fn referenced_cids(&self) -> Result<BTreeSet<ModelCid>, HubError> {
        let txn = self.db.begin_read()?;
        let files = txn.open_table(FILES)?;
        let mut out = BTreeSet::new();
        for entry in files.iter()? {
            let (_, v) = entry?;
            let record: FileRecord = serde_json::from_slice(v.value())?;
            out.insert(record.cid);
        }
        Ok(out)
    }

    /// Files (model, version, record) that point at `cid`.
    pub fn files_with_cid(
        &self,
        cid: &ModelCid,
    ) -> Result<Vec<(String, Version, FileRecord)>, HubError> {
        let txn = self.db.begin_read()?;
        let files = txn.open_table(FILES)?;
        let mut out = Vec::new();
        for entry in files.iter()? {
            let (k, v) = entry?;
            let record: FileRecord = serde_json::from_slice(v.value())?;
            if record.cid == *cid {
                let (name, major, minor, _) = k.value();
                out.push((name.to_string(), Version { major, minor }, record));
            }
        }
        Ok(out)
    }
}
