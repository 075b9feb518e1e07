//! What a user may name a model by: a CID, `name@version` (optionally `/filename`), or a local file.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use ogn_hub::{FileRecord, HubClient, Version};
use ogn_types::ModelCid;

/// A model reference as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ModelRef {
    /// A model file by its CID.
    Cid(ModelCid),
    /// A file of a hub version; `file` picks one when the version has several `.onnx` files.
    Versioned { name: String, version: Version, file: Option<String> },
    /// A file on this machine.
    Path(PathBuf),
}

impl ModelRef {
    /// Reads a reference: an existing path wins, then a CID, then `name@version[/file]`.
    pub(crate) fn parse(text: &str) -> Result<Self> {
        let path = PathBuf::from(text);
        if path.is_file() {
            return Ok(Self::Path(path));
        }
        if let Ok(cid) = text.parse::<ModelCid>() {
            return Ok(Self::Cid(cid));
        }
        let Some((name, rest)) = text.split_once('@') else {
            bail!("`{text}` is neither a file, a model CID, nor name@version");
        };
        let (version, file) = match rest.split_once('/') {
            Some((v, f)) => (v, Some(f.to_string())),
            None => (rest, None),
        };
        let version: Version = version.parse().with_context(|| format!("in `{text}`"))?;
        Ok(Self::Versioned { name: name.to_string(), version, file })
    }
}

/// The file a versioned reference names: the one `.onnx` file of the version, or the named file.
pub(crate) async fn pick_file(
    client: &HubClient,
    name: &str,
    version: Version,
    file: Option<&str>,
) -> Result<FileRecord> {
    let files = client.list_files(name, version).await?;
    if let Some(wanted) = file {
        return files
            .into_iter()
            .find(|f| f.filename == wanted)
            .with_context(|| format!("{name}@{version} has no file `{wanted}`"));
    }
    let mut onnx: Vec<FileRecord> =
        files.iter().filter(|f| f.filename.ends_with(".onnx")).cloned().collect();
    match (onnx.len(), files.len()) {
        (1, _) => Ok(onnx.remove(0)),
        (_, 1) => Ok(files[0].clone()),
        (0, 0) => bail!("{name}@{version} has no files"),
        _ => bail!(
            "{name}@{version} has several files ({}); name one as {name}@{version}/<file>",
            files.iter().map(|f| f.filename.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        let cid = ModelCid::for_bytes(b"x");
        assert_eq!(ModelRef::parse(&cid.to_string()).unwrap(), ModelRef::Cid(cid));
        assert_eq!(
            ModelRef::parse("ocr@1.01/det.onnx").unwrap(),
            ModelRef::Versioned {
                name: "ocr".into(),
                version: "1.01".parse().unwrap(),
                file: Some("det.onnx".into())
            }
        );
        assert!(ModelRef::parse("ocr").is_err());
        assert!(ModelRef::parse("ocr@one").is_err());
    }
}
