//! Settings of the `ogn` command: flags, then environment variables, then the config file, then defaults.
//!
//! The config file is TOML, read from `--config`, `$OGN_CONFIG`, or `~/.config/ogn/config.toml` when present:
//! ```toml
//! hub_url = "http://127.0.0.1:8545"
//! private_key = "0x…"          # the key that signs hub writes (owner of the models it creates)
//! data_dir = "/home/me/.ogn"   # model cache, hub data for `ogn hub serve`
//! ```

use std::path::{Path, PathBuf};

use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, Result};
use serde::Deserialize;

/// The URL `ogn devnet` and `ogn hub serve` listen on by default, and that clients use by default.
pub(crate) const DEFAULT_HUB_URL: &str = "http://127.0.0.1:8545";

/// The mnemonic of the dev accounts (the one anvil and hardhat use): never for real funds.
pub(crate) const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// What the config file may set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    hub_url: Option<String>,
    private_key: Option<String>,
    data_dir: Option<PathBuf>,
}

/// Settings after merging every source.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Base URL of the hub.
    pub(crate) hub_url: String,
    /// Hex private key signing hub writes, when one is configured.
    pub(crate) private_key: Option<String>,
    /// Local data directory (model cache; hub data for `ogn hub serve`).
    pub(crate) data_dir: PathBuf,
}

/// Values given on the command line or in the environment (clap reads both).
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    /// `--config` / `$OGN_CONFIG`.
    pub(crate) config: Option<PathBuf>,
    /// `--hub` / `$OGN_HUB_URL`.
    pub(crate) hub_url: Option<String>,
    /// `--key` / `$OGN_PRIVATE_KEY`.
    pub(crate) private_key: Option<String>,
    /// `--data-dir` / `$OGN_DATA_DIR`.
    pub(crate) data_dir: Option<PathBuf>,
}

fn default_config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("ogn").join("config.toml")).filter(|p| p.is_file())
}

fn read_file_config(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

impl Settings {
    /// Merges flags/environment over the config file over defaults.
    pub(crate) fn load(overrides: Overrides) -> Result<Self> {
        let file = match overrides.config.clone().or_else(default_config_path) {
            Some(path) => read_file_config(&path)?,
            None => FileConfig::default(),
        };
        let data_dir = overrides
            .data_dir
            .or(file.data_dir)
            .or_else(|| dirs::home_dir().map(|h| h.join(".ogn")))
            .unwrap_or_else(|| PathBuf::from(".ogn"));
        Ok(Self {
            hub_url: overrides.hub_url.or(file.hub_url).unwrap_or_else(|| DEFAULT_HUB_URL.into()),
            private_key: overrides.private_key.or(file.private_key),
            data_dir,
        })
    }

    /// The signer for hub writes: the configured key, else dev account 0 (as anvil's first account).
    pub(crate) fn signer(&self) -> Result<PrivateKeySigner> {
        match &self.private_key {
            Some(hex) => hex.trim().parse::<PrivateKeySigner>().context(
                "the private key (--key / OGN_PRIVATE_KEY / private_key) is not a 32-byte hex key",
            ),
            None => dev_signer(0),
        }
    }

    /// Where downloaded model files are cached, by CID.
    pub(crate) fn model_cache_dir(&self) -> PathBuf {
        self.data_dir.join("models")
    }
}

/// Dev account `index` of [`DEV_MNEMONIC`] (BIP-44 path m/44'/60'/0'/0/index).
pub(crate) fn dev_signer(index: u32) -> Result<PrivateKeySigner> {
    alloy::signers::local::MnemonicBuilder::<alloy::signers::local::coins_bip39::English>::default()
        .phrase(DEV_MNEMONIC)
        .index(index)
        .context("dev account index")?
        .build()
        .context("deriving a dev account")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_account_zero_is_anvils() {
        let signer = dev_signer(0).unwrap();
        assert_eq!(signer.address().to_string(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    }

    #[test]
    fn flags_beat_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "hub_url = \"http://file\"\ndata_dir = \"/from/file\"\n").unwrap();
        let s = Settings::load(Overrides {
            config: Some(path.clone()),
            hub_url: Some("http://flag".into()),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(s.hub_url, "http://flag");
        assert_eq!(s.data_dir, PathBuf::from("/from/file"));
        std::fs::write(&path, "hub_urll = 1\n").unwrap();
        let err =
            Settings::load(Overrides { config: Some(path), ..Overrides::default() }).unwrap_err();
        assert!(format!("{err:#}").contains("unknown field"), "{err:#}");
    }
}
