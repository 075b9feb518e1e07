//! What the scheduler and the operator keep across restarts: JSON documents by kind and job number under a
//! directory (`{dir}/{kind}/{job}.json`), each written whole or not at all (a temporary file, then a
//! rename), so a crash mid-write leaves the previous document or none, never half of one.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Serialize, de::DeserializeOwned};

/// A state directory; without one, nothing is kept and nothing is found.
#[derive(Debug, Clone, Default)]
pub struct StateDir(Option<PathBuf>);

impl StateDir {
    /// Documents under `dir`, or none at all.
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self(dir)
    }

    fn path(&self, kind: &str, job: u64) -> Option<PathBuf> {
        Some(self.0.as_ref()?.join(kind).join(format!("{job}.json")))
    }

    /// Writes `value` as document `job` of `kind`.
    pub fn put<T: Serialize>(&self, kind: &str, job: u64, value: &T) -> Result<()> {
        let Some(path) = self.path(kind, job) else { return Ok(()) };
        let dir = path.parent().expect("a file under a directory");
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(value)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }

    /// Reads document `job` of `kind`: `None` when there is none (or no directory).
    pub fn get<T: DeserializeOwned>(&self, kind: &str, job: u64) -> Result<Option<T>> {
        let Some(path) = self.path(kind, job) else { return Ok(None) };
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .with_context(|| format!("reading {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(Some(dir.path().to_path_buf()));
        state.put("runs", 7, &vec![1u8, 2, 3]).unwrap();
        assert_eq!(state.get::<Vec<u8>>("runs", 7).unwrap(), Some(vec![1, 2, 3]));
        assert_eq!(state.get::<Vec<u8>>("runs", 8).unwrap(), None);
        assert!(!dir.path().join("runs/7.json.tmp").exists(), "no temporary file left");
        std::fs::write(dir.path().join("runs/9.json"), b"{not json").unwrap();
        assert!(state.get::<Vec<u8>>("runs", 9).is_err(), "a corrupt document is an error");
        let none = StateDir::default();
        none.put("runs", 1, &1u8).unwrap();
        assert_eq!(none.get::<u8>("runs", 1).unwrap(), None);
    }
}
