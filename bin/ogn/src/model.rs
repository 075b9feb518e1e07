//! `ogn model …`: repositories, versions and files in the hub, and the local model cache.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use ogn_hub::{HubClient, NewModel, Version};
use ogn_runtime::Runtime;
use ogn_types::ModelCid;
use serde_json::json;

use crate::{
    config::Settings,
    progress::transfer_bar,
    reference::{ModelRef, pick_file},
};

/// Subcommands of `ogn model`.
#[derive(Debug, Subcommand)]
pub(crate) enum ModelCommand {
    /// Create a model repository owned by your key.
    Create {
        /// Repository name (letters, digits, `-`, `_`, `.`).
        name: String,
        /// What the model does.
        #[arg(long, default_value = "")]
        description: String,
        /// Task, e.g. `image-classification`, `ocr`.
        #[arg(long, default_value = "")]
        task: String,
        /// License, e.g. `MIT`.
        #[arg(long, default_value = "")]
        license: String,
        /// Tags (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Upload files as a new version (or into an existing one with --version).
    Push {
        /// Repository name.
        name: String,
        /// Files to upload.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Upload into this existing version instead of creating a new one.
        #[arg(long)]
        version: Option<Version>,
        /// Create a major version (1.xx → 2.00) instead of a minor one.
        #[arg(long, conflicts_with = "version")]
        major: bool,
        /// Release notes of the new version.
        #[arg(long, default_value = "")]
        notes: String,
        /// Upload `.onnx` files even if they do not load as ONNX models.
        #[arg(long)]
        no_check: bool,
    },
    /// List the models in the hub.
    Ls,
    /// Show a model, its versions and their files.
    Show {
        /// Repository name.
        name: String,
    },
    /// Download a model file (by CID or name@version[/file]) and check its CID.
    Pull {
        /// CID or name@version[/file].
        model: String,
        /// Where to write it (default: the file name, or the CID).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Print a model's inputs and outputs (names, types, shapes).
    Inspect {
        /// CID, name@version[/file], or a local .onnx file.
        model: String,
    },
}

pub(crate) fn client(settings: &Settings, signed: bool) -> Result<HubClient> {
    let client = HubClient::new(&settings.hub_url)?;
    Ok(if signed { client.with_signer(settings.signer()?) } else { client })
}

fn print(json_mode: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json_mode {
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    } else {
        println!("{}", text());
    }
}

pub(crate) async fn run(settings: &Settings, cmd: ModelCommand, json_mode: bool) -> Result<()> {
    match cmd {
        ModelCommand::Create { name, description, task, license, tags } => {
            let client = client(settings, true)?;
            let record =
                client.create_model(&NewModel { name, description, task, license, tags }).await?;
            print(json_mode, serde_json::to_value(&record)?, || {
                format!("created model {} (owner {})", record.name, record.owner)
            });
        }
        ModelCommand::Push { name, files, version, major, notes, no_check } => {
            for file in &files {
                check_pushable(file, no_check)?;
            }
            let client = client(settings, true)?;
            let version = match version {
                Some(v) => v,
                None => client.create_version(&name, &notes, major).await?.version,
            };
            let mut uploaded = Vec::new();
            for file in &files {
                let size = std::fs::metadata(file)
                    .with_context(|| format!("reading {}", file.display()))?
                    .len();
                let bar = transfer_bar(size, &format!("uploading {}", file.display()));
                let progress = bar.clone();
                let record = client
                    .upload_file(&name, version, file, None, move |n| progress.set_position(n))
                    .await;
                bar.finish_and_clear();
                let record = record?;
                if !json_mode {
                    println!(
                        "{name}@{version}/{}  {}  {} bytes",
                        record.filename, record.cid, record.size
                    );
                }
                uploaded.push(record);
            }
            if json_mode {
                print(
                    true,
                    json!({ "name": name, "version": version, "files": uploaded }),
                    String::new,
                );
            }
        }
        ModelCommand::Ls => {
            let models = client(settings, false)?.list_models().await?;
            print(json_mode, serde_json::to_value(&models)?, || {
                if models.is_empty() {
                    return "no models".into();
                }
                models
                    .iter()
                    .map(|m| format!("{:<32} {:<20} owner {}", m.name, m.task, m.owner))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        ModelCommand::Show { name } => {
            let client = client(settings, false)?;
            let details = client.model(&name).await?;
            let mut versions = Vec::new();
            for v in &details.versions {
                let files = client.list_files(&name, v.version).await?;
                versions.push((v.clone(), files));
            }
            let value = json!({
                "model": details.model,
                "versions": versions.iter().map(|(v, f)| json!({ "version": v, "files": f })).collect::<Vec<_>>(),
            });
            print(json_mode, value, || {
                let m = &details.model;
                let mut out = format!(
                    "{}\n  description: {}\n  task: {}\n  license: {}\n  tags: {}\n  owner: {}",
                    m.name,
                    m.description,
                    m.task,
                    m.license,
                    m.tags.join(", "),
                    m.owner
                );
                for (v, files) in &versions {
                    out.push_str(&format!("\n  {} {}", v.version, v.notes));
                    for f in files {
                        out.push_str(&format!("\n    {}  {}  {} bytes", f.filename, f.cid, f.size));
                    }
                }
                out
            });
        }
        ModelCommand::Pull { model, output } => {
            let client = client(settings, false)?;
            let (cid, filename) = match ModelRef::parse(&model)? {
                ModelRef::Cid(cid) => (cid, cid.to_string()),
                ModelRef::Versioned { name, version, file } => {
                    let f = pick_file(&client, &name, version, file.as_deref()).await?;
                    (f.cid, f.filename)
                }
                ModelRef::Path(p) => bail!("{} is already a local file", p.display()),
            };
            let dest = output.unwrap_or_else(|| PathBuf::from(&filename));
            let size = download(&client, &cid, &dest).await?;
            print(json_mode, json!({ "cid": cid, "path": dest, "size": size }), || {
                format!("{}  {}  {} bytes", dest.display(), cid, size)
            });
        }
        ModelCommand::Inspect { model } => {
            let (cid, bytes) = fetch_model(settings, &model).await?;
            let info = Runtime::inspect(&bytes)?;
            let value = json!({
                "cid": cid,
                "inputs": info.inputs.iter().map(|t| json!({"name": t.name, "dtype": t.dtype, "shape": t.shape_string()})).collect::<Vec<_>>(),
                "outputs": info.outputs.iter().map(|t| json!({"name": t.name, "dtype": t.dtype, "shape": t.shape_string()})).collect::<Vec<_>>(),
            });
            print(json_mode, value, || {
                let mut out = format!("{cid}\ninputs:");
                for t in &info.inputs {
                    out.push_str(&format!(
                        "\n  {:<24} {:<8} {}",
                        t.name,
                        t.dtype,
                        t.shape_string()
                    ));
                }
                out.push_str("\noutputs:");
                for t in &info.outputs {
                    out.push_str(&format!(
                        "\n  {:<24} {:<8} {}",
                        t.name,
                        t.dtype,
                        t.shape_string()
                    ));
                }
                out
            });
        }
    }
    Ok(())
}

/// Refuses to push an `.onnx` file that does not load as an ONNX model (unless `no_check`).
fn check_pushable(file: &Path, no_check: bool) -> Result<()> {
    if !file.is_file() {
        bail!("{} is not a file", file.display());
    }
    let is_onnx = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    if is_onnx && !no_check {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        Runtime::inspect(&bytes).with_context(|| {
            format!(
                "{} is not a runnable ONNX model (use --no-check to upload it anyway)",
                file.display()
            )
        })?;
    }
    Ok(())
}

async fn download(client: &HubClient, cid: &ModelCid, dest: &Path) -> Result<u64> {
    let total = client.blob_size(cid).await?;
    let bar = transfer_bar(total, &format!("downloading {cid}"));
    let progress = bar.clone();
    let size = client.download_blob(cid, dest, move |n| progress.set_position(n)).await;
    bar.finish_and_clear();
    Ok(size?)
}

/// The bytes of a model named by `reference`: a local file, or a hub file through the local cache
/// (`<data_dir>/models/<cid>`, re-hashed on every read).
pub(crate) async fn fetch_model(
    settings: &Settings,
    reference: &str,
) -> Result<(ModelCid, Vec<u8>)> {
    let cid = match ModelRef::parse(reference)? {
        ModelRef::Path(path) => {
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            return Ok((ModelCid::for_bytes(&bytes), bytes));
        }
        ModelRef::Cid(cid) => cid,
        ModelRef::Versioned { name, version, file } => {
            let client = client(settings, false)?;
            pick_file(&client, &name, version, file.as_deref()).await?.cid
        }
    };
    let cached = settings.model_cache_dir().join(cid.to_string());
    if let Ok(bytes) = std::fs::read(&cached) {
        if cid.matches(&bytes) {
            return Ok((cid, bytes));
        }
        tracing::warn!(path = %cached.display(), "cached model does not match its CID; downloading again");
    }
    std::fs::create_dir_all(settings.model_cache_dir())
        .with_context(|| format!("creating {}", settings.model_cache_dir().display()))?;
    download(&client(settings, false)?, &cid, &cached).await?;
    let bytes = std::fs::read(&cached).with_context(|| format!("reading {}", cached.display()))?;
    if !cid.matches(&bytes) {
        bail!("downloaded bytes do not match {cid}");
    }
    Ok((cid, bytes))
}
