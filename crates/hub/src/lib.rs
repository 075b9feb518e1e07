//! The ogn Model Hub: content-addressed model files, repositories, versions, and its HTTP API.
//!
//! A model file's id is its CIDv1 (codec `raw`, sha2-256) string, [`ogn_types::ModelCid`]. A repository
//! (name, description, task, license, tags, owner address) has versions numbered like OpenGradient's
//! (`1.00`, `1.01`, `2.00`), and each version has several files.
//!
//! ```text
//!  HubClient ──HTTP──► api::router ──► Hub ──┬──► blob::BlobStore   (bytes by CID: LocalBlobStore,
//!  (signs writes)      (auth, limits)        │                        ObjectBlobStore over object_store)
//!                                            └──► index::Index      (redb: models, versions, files)
//! ```
//!
//! - [`blob`]: the blob stores, the two-phase (stage → commit) write path, re-hashing on read.
//! - [`index`]: the metadata in `redb`.
//! - [`Hub`]: both together; `resolve("name@1.00")`, `resolve("<cid>")`; orphan collection.
//! - [`api`]: the axum router (`/api/v0/...`, OpenGradient's shape) with range requests.
//! - [`auth`]: request signatures by Ethereum keys (EIP-191), replay window and cache.
//! - [`client::HubClient`]: the reqwest client the `ogn` command uses.
//! - [`names`], [`version`], [`range`]: parsers of outside input, each with a fuzz target in `fuzz/`.
//!
//! # Invariants
//! - A blob is stored under its CID only when all its bytes are durable and hash to it; identical bytes
//!   are stored once; a read refuses bytes that no longer hash to their CID.
//! - A file's metadata is committed only after its blob is durable. A process killed mid-upload leaves
//!   neither a visible partial blob nor metadata; staging leftovers are removed when the hub reopens, and
//!   an orphan blob (killed between blob commit and metadata commit) is removed by
//!   [`Hub::collect_garbage`].
//! - The per-file limit (default 1 GiB) is enforced while bytes stream in: the upload stops at the first
//!   byte past the limit.
//! - Names, versions and filenames never contain `/`, `\`, `..`, NUL or control characters.
//! - Only a model's owner (the address that created it) adds versions and files; reads are public.

pub mod api;
pub mod auth;
pub mod blob;
pub mod client;
pub mod error;
mod hub;
pub mod index;
pub mod names;
pub mod range;
pub mod version;

pub use blob::{BlobStore, LocalBlobStore, ObjectBlobStore};
pub use client::HubClient;
pub use error::HubError;
pub use hub::{Hub, HubConfig, Resolved};
pub use index::{FileRecord, ModelRecord, NewModel, VersionRecord};
pub use version::Version;
