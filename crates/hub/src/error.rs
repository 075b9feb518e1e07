//! The hub's error type and the HTTP status each error maps to.

use alloy::primitives::Address;
use ogn_types::ModelCid;

use crate::{auth::AuthError, blob::BlobError, names::InvalidName, version::Version};

/// Everything a hub operation can refuse or fail with. Messages name the offending value.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// A name, version, filename, tag or text broke a rule (400).
    #[error(transparent)]
    Invalid(#[from] InvalidName),
    /// A malformed request (400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No model with this name (404).
    #[error("model \"{0}\" not found")]
    ModelNotFound(String),
    /// The model has no such version (404).
    #[error("model \"{name}\" has no version {version}")]
    VersionNotFound {
        /// Model name.
        name: String,
        /// Requested version.
        version: Version,
    },
    /// The version has no such file (404).
    #[error("version {version} of model \"{name}\" has no file \"{filename}\"")]
    FileNotFound {
        /// Model name.
        name: String,
        /// Version.
        version: Version,
        /// Requested filename.
        filename: String,
    },
    /// A model with this name exists already (409).
    #[error("model \"{0}\" already exists")]
    ModelExists(String),
    /// The version already has a different file under this name (409).
    #[error(
        "version {version} of model \"{name}\" already has a file \"{filename}\" with CID {existing}"
    )]
    FileExists {
        /// Model name.
        name: String,
        /// Version.
        version: Version,
        /// Filename.
        filename: String,
        /// The CID already recorded.
        existing: ModelCid,
    },
    /// Version numbers ran out (409).
    #[error("model \"{0}\" cannot get another version: version number overflow")]
    VersionOverflow(String),
    /// The request is not signed correctly (401).
    #[error("unauthorized: {0}")]
    Unauthorized(#[from] AuthError),
    /// The signer is not the model's owner (403).
    #[error("forbidden: {signer} is not the owner of model \"{name}\" (owner is {owner})")]
    NotOwner {
        /// Model name.
        name: String,
        /// Its owner.
        owner: Address,
        /// Who asked.
        signer: Address,
    },
    /// A blob store error (status depends on the kind).
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The metadata index failed (500).
    #[error("index storage failed: {0}")]
    Index(String),
}

impl HubError {
    /// The HTTP status code for this error.
    pub fn status(&self) -> u16 {
        match self {
            HubError::Invalid(_) | HubError::BadRequest(_) => 400,
            HubError::Unauthorized(_) => 401,
            HubError::NotOwner { .. } => 403,
            HubError::ModelNotFound(_)
            | HubError::VersionNotFound { .. }
            | HubError::FileNotFound { .. } => 404,
            HubError::ModelExists(_)
            | HubError::FileExists { .. }
            | HubError::VersionOverflow(_) => 409,
            HubError::Blob(b) => match b {
                BlobError::TooLarge { .. } => 413,
                BlobError::CidMismatch { .. } | BlobError::Source(_) => 400,
                BlobError::NotFound(_) => 404,
                BlobError::OutOfRange { .. } => 416,
                BlobError::Corrupted { .. } | BlobError::Storage(_) => 500,
            },
            HubError::Index(_) => 500,
        }
    }
}

macro_rules! index_error {
    ($($t:ty),*) => {$(
        impl From<$t> for HubError {
            fn from(e: $t) -> Self {
                HubError::Index(e.to_string())
            }
        }
    )*};
}
index_error!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    serde_json::Error
);
