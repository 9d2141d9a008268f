//! The versioned model bundle: the one file a training run writes and the server loads. The only place
//! that serializes models.
//!
//! Layout: the magic `TAGCBNDL`, the format version (u32 LE), the header as JSON (u64 LE length first,
//! readable without decoding the payload), the payload as bincode 2 (u64 LE length first), and a SHA-256
//! over header and payload. A bundle of another format version, a truncated file or a bad checksum fails
//! with an error that says which.

mod contents;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use contents::*;

/// Format version written by this build; bundles of another version are refused.
pub const FORMAT_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"TAGCBNDL";

/// Why a bundle could not be written or loaded.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// I/O error.
    #[error("bundle {path}: {source}")]
    Io {
        /// The bundle file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Not a bundle at all.
    #[error("{path} is not a tagcenter model bundle (bad magic bytes)")]
    NotABundle {
        /// The file.
        path: PathBuf,
    },
    /// Written by a different format version.
    #[error(
        "bundle {path} has format version {found}; this build reads version {expected}: retrain, or serve it with the matching release"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// Ours.
        expected: u32,
    },
    /// The checksum does not match (corrupt or truncated file).
    #[error("bundle {path} is corrupt: checksum mismatch")]
    Checksum {
        /// The file.
        path: PathBuf,
    },
    /// The file ends early or a length is absurd.
    #[error("bundle {path} is truncated or malformed: {detail}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// Encoding or decoding failed.
    #[error("bundle {path}: cannot {action} payload: {detail}")]
    Codec {
        /// The file.
        path: PathBuf,
        /// encode or decode.
        action: &'static str,
        /// The codec's message.
        detail: String,
    },
}

/// A metric measured on the temporal holdout, next to its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Model the metric belongs to (`churn`, `recommendations`, `timing`).
    pub model: String,
    /// Metric name (`roc_auc`, `recall_at_10`, ...).
    pub name: String,
    /// Our value.
    pub value: f64,
    /// The simple baseline's value, when there is one.
    pub baseline: Option<f64>,
}

/// One feature of a model's input schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// Feature name.
    pub name: String,
    /// How it is encoded (`standardized`, `one_hot:gold`, ...).
    pub encoding: String,
}

/// The bundle header: what the payload is, for whom, and how good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleHeader {
    /// Payload format version.
    pub format_version: u32,
    /// Version of the crate that wrote it.
    pub crate_version: String,
    /// Model version shown to API users (`2024-07-01.3f9a2b7c`).
    pub model_version: String,
    /// When it was written (RFC 3339).
    pub created_at: String,
    /// The as-of date of the data (`YYYY-MM-DD`).
    pub as_of: String,
    /// Fingerprint of the training data.
    pub data_fingerprint: String,
    /// Tag dictionary version.
    pub dictionary_version: String,
    /// Input schema of the churn model.
    pub feature_schema: Vec<FeatureSpec>,
    /// Backtest metrics.
    pub metrics: Vec<Metric>,
    /// Free-form facts (seed, sizes, timings).
    pub notes: BTreeMap<String, String>,
}

/// A loaded bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelBundle {
    /// Header.
    pub header: BundleHeader,
    /// Payload.
    pub contents: BundleContents,
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_little_endian().with_fixed_int_encoding()
}

impl ModelBundle {
    /// Writes the bundle to `path` (through a temporary file renamed into place, so a reader never sees
    /// half a bundle).
    pub fn write(&self, path: &Path) -> Result<(), BundleError> {
        let io = |source| BundleError::Io { path: path.to_owned(), source };
        let header = serde_json::to_vec(&self.header).map_err(|e| BundleError::Codec {
            path: path.to_owned(),
            action: "encode",
            detail: e.to_string(),
        })?;
        let payload = bincode::serde::encode_to_vec(&self.contents, config()).map_err(|e| BundleError::Codec {
            path: path.to_owned(),
            action: "encode",
            detail: e.to_string(),
        })?;
        let mut hasher = Sha256::new();
        hasher.update(&header);
        hasher.update(&payload);
        let checksum = hasher.finalize();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("partial");
        {
            let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
            file.write_all(MAGIC).map_err(io)?;
            file.write_all(&FORMAT_VERSION.to_le_bytes()).map_err(io)?;
            file.write_all(&(header.len() as u64).to_le_bytes()).map_err(io)?;
            file.write_all(&header).map_err(io)?;
            file.write_all(&(payload.len() as u64).to_le_bytes()).map_err(io)?;
            file.write_all(&payload).map_err(io)?;
            file.write_all(&checksum).map_err(io)?;
            file.flush().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads only the header (checks magic and version, not the checksum).
    pub fn read_header(path: &Path) -> Result<BundleHeader, BundleError> {
        let mut file = std::fs::File::open(path).map_err(|source| BundleError::Io { path: path.to_owned(), source })?;
        let mut start = vec![0u8; 20];
        file.read_exact(&mut start).map_err(|_| malformed(path, "shorter than its fixed header"))?;
        check_start(path, &start)?;
        let len = u64::from_le_bytes(start[12..20].try_into().expect("8 bytes"));
        let len =
            usize::try_from(len).ok().filter(|l| *l < 64 << 20).ok_or_else(|| malformed(path, "header length"))?;
        let mut header = vec![0u8; len];
        file.read_exact(&mut header).map_err(|_| malformed(path, "header cut off"))?;
        serde_json::from_slice(&header).map_err(|e| malformed(path, &format!("header JSON: {e}")))
    }

    /// Reads and verifies a bundle.
    pub fn read(path: &Path) -> Result<Self, BundleError> {
        let bytes = std::fs::read(path).map_err(|source| BundleError::Io { path: path.to_owned(), source })?;
        Self::from_bytes(path, &bytes)
    }

    fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self, BundleError> {
        if bytes.len() < 20 {
            return Err(if bytes.len() >= 8 && &bytes[..8] != MAGIC {
                BundleError::NotABundle { path: path.to_owned() }
            } else {
                malformed(path, "shorter than its fixed header")
            });
        }
        check_start(path, bytes)?;
        let mut at = 12;
        let header = take(path, bytes, &mut at)?;
        let payload = take(path, bytes, &mut at)?;
        let checksum = bytes.get(at..at + 32).ok_or_else(|| malformed(path, "checksum cut off"))?;
        if at + 32 != bytes.len() {
            return Err(malformed(path, "bytes after the checksum"));
        }
        let mut hasher = Sha256::new();
        hasher.update(header);
        hasher.update(payload);
        if hasher.finalize().as_slice() != checksum {
            return Err(BundleError::Checksum { path: path.to_owned() });
        }
        let header: BundleHeader =
            serde_json::from_slice(header).map_err(|e| malformed(path, &format!("header JSON: {e}")))?;
        let (contents, used): (BundleContents, usize) = bincode::serde::decode_from_slice(payload, config())
            .map_err(|e| BundleError::Codec { path: path.to_owned(), action: "decode", detail: e.to_string() })?;
        if used != payload.len() {
            return Err(malformed(path, "payload has trailing bytes"));
        }
        Ok(Self { header, contents })
    }
}

fn malformed(path: &Path, detail: &str) -> BundleError {
    BundleError::Malformed { path: path.to_owned(), detail: detail.to_owned() }
}

fn check_start(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    if &bytes[..8] != MAGIC {
        return Err(BundleError::NotABundle { path: path.to_owned() });
    }
    let found = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if found != FORMAT_VERSION {
        return Err(BundleError::Version { path: path.to_owned(), found, expected: FORMAT_VERSION });
    }
    Ok(())
}

fn take<'a>(path: &Path, bytes: &'a [u8], at: &mut usize) -> Result<&'a [u8], BundleError> {
    let len_bytes = bytes.get(*at..*at + 8).ok_or_else(|| malformed(path, "length cut off"))?;
    let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
    let len = usize::try_from(len).map_err(|_| malformed(path, "length"))?;
    let start = *at + 8;
    let end = start.checked_add(len).filter(|e| *e <= bytes.len()).ok_or_else(|| malformed(path, "section cut off"))?;
    *at = end;
    Ok(&bytes[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tiny() -> ModelBundle {
        ModelBundle {
            header: BundleHeader {
                format_version: FORMAT_VERSION,
                crate_version: env!("CARGO_PKG_VERSION").to_owned(),
                model_version: "2024-07-01.test".to_owned(),
                created_at: "2024-07-01T00:00:00Z".to_owned(),
                as_of: "2024-07-01".to_owned(),
                data_fingerprint: "abc".to_owned(),
                dictionary_version: "1".to_owned(),
                feature_schema: vec![FeatureSpec { name: "recency_days".into(), encoding: "standardized".into() }],
                metrics: vec![Metric {
                    model: "churn".into(),
                    name: "roc_auc".into(),
                    value: 0.8,
                    baseline: Some(0.7),
                }],
                notes: BTreeMap::new(),
            },
            contents: BundleContents {
                customers: Customers {
                    ids: vec!["C00000000000001".into()],
                    keys: vec![("web:1".into(), 0)],
                    profile: vec![ProfileColumnData {
                        name: "vip".into(),
                        tag_type: TagType::Flag,
                        values: ColumnValues::Flag(vec![1]),
                    }],
                },
                items: Items::default(),
                tags: Vec::new(),
                churn: ChurnOutputs { probability: vec![0.25], ..ChurnOutputs::default() },
                timing: TimingOutputs { urgency: vec![Urgency::Remind], ..TimingOutputs::default() },
                recommendations: Recommendations::default(),
            },
        }
    }

    use crate::domain::TagType;

    #[test]
    fn a_bundle_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.tcb");
        let bundle = tiny();
        bundle.write(&path).unwrap();
        assert_eq!(ModelBundle::read(&path).unwrap(), bundle);
        assert_eq!(ModelBundle::read_header(&path).unwrap(), bundle.header);
    }

    #[test]
    fn corruption_version_and_truncation_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.tcb");
        tiny().write(&path).unwrap();
        let good = std::fs::read(&path).unwrap();

        let mut flipped = good.clone();
        let last = flipped.len() - 40;
        flipped[last] ^= 0xff;
        std::fs::write(&path, &flipped).unwrap();
        assert!(matches!(ModelBundle::read(&path), Err(BundleError::Checksum { .. })));

        let mut version = good.clone();
        version[8] = 99;
        std::fs::write(&path, &version).unwrap();
        let err = ModelBundle::read(&path).unwrap_err();
        assert!(matches!(err, BundleError::Version { found: 99, .. }), "{err}");
        assert!(err.to_string().contains("format version 99"));

        std::fs::write(&path, &good[..good.len() / 2]).unwrap();
        assert!(matches!(ModelBundle::read(&path), Err(BundleError::Malformed { .. })));

        std::fs::write(&path, b"PK\x03\x04 definitely a zip file").unwrap();
        assert!(matches!(ModelBundle::read(&path), Err(BundleError::NotABundle { .. })));
    }
}
