//! The versioned model bundle: the one file a training run writes and the server loads. The only place
//! that serializes models.
//!
//! Layout: the magic `TAGCBNDL`, the format version (u32 LE), the header as JSON (u64 LE length first,
//! readable without decoding the payload), the payload (u64 LE length first) and a BLAKE3 hash of header
//! and payload. The payload is a run of columns ([`codec`] lists them): big arrays as raw little-endian
//! numbers read straight into their vectors, string lists as one text plus ends, small parts as bincode 2.
//! A bundle of another format version, a truncated file or a bad checksum fails with an error that says
//! which.

mod codec;
mod columns;
mod contents;
pub(crate) mod memory;
mod strings;

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use codec::Decoded;
pub use contents::*;
pub use strings::{StrColumn, StrColumnError};

/// Format version written by this build; bundles of another version are refused. Version 1 was one
/// bincode value checked with SHA-256; version 2 is columns checked with BLAKE3.
pub const FORMAT_VERSION: u32 = 2;
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

/// Bytes before the header JSON: magic, version, header length.
const FIXED: usize = 20;
/// Bytes of the checksum at the end.
const HASH_LEN: usize = 32;

impl ModelBundle {
    /// Writes the bundle to `path` (through a temporary file renamed into place, so a reader never sees
    /// half a bundle).
    pub fn write(&self, path: &Path) -> Result<(), BundleError> {
        let io = |source| BundleError::Io { path: path.to_owned(), source };
        let codec = |detail: String| BundleError::Codec { path: path.to_owned(), action: "encode", detail };
        let header = serde_json::to_vec(&self.header).map_err(|e| codec(e.to_string()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("partial");
        {
            let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp).map_err(io)?);
            file.write_all(MAGIC).map_err(io)?;
            file.write_all(&FORMAT_VERSION.to_le_bytes()).map_err(io)?;
            file.write_all(&(header.len() as u64).to_le_bytes()).map_err(io)?;
            file.write_all(&header).map_err(io)?;
            // The payload length is patched in once the payload has been streamed.
            let length_at = (FIXED + header.len()) as u64;
            file.write_all(&0u64.to_le_bytes()).map_err(io)?;
            let mut hasher = blake3::Hasher::new();
            hasher.update(&header);
            let mut columns = columns::ColumnWriter::new(file, hasher);
            codec::encode(&self.contents, &mut columns).map_err(codec)?;
            let (mut file, hasher, payload_len) = columns.finish().map_err(io)?;
            file.write_all(hasher.finalize().as_bytes()).map_err(io)?;
            let mut file = file.into_inner().map_err(|e| io(e.into_error()))?;
            file.seek(std::io::SeekFrom::Start(length_at)).map_err(io)?;
            file.write_all(&payload_len.to_le_bytes()).map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads only the header (checks magic and version, not the checksum).
    pub fn read_header(path: &Path) -> Result<BundleHeader, BundleError> {
        let file = std::fs::File::open(path).map_err(|source| BundleError::Io { path: path.to_owned(), source })?;
        let (header, _) = read_start(path, &mut BufReader::new(file))?;
        serde_json::from_slice(&header).map_err(|e| malformed(path, &format!("header JSON: {e}")))
    }

    /// Reads and verifies a bundle.
    pub fn read(path: &Path) -> Result<Self, BundleError> {
        let (header, decoded) = Self::read_columns(path)?;
        Ok(Self { header, contents: decoded.into_contents() })
    }

    /// Reads and verifies a bundle, keeping the customer IDs and keys as string columns (what the server
    /// holds; [`ModelBundle::read`] turns them into `String`s).
    pub fn read_columns(path: &Path) -> Result<(BundleHeader, Decoded), BundleError> {
        let io = |source| BundleError::Io { path: path.to_owned(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        let mut input = BufReader::with_capacity(1 << 20, file);
        let (header_bytes, start_len) = read_start(path, &mut input)?;
        let mut len = [0u8; 8];
        input.read_exact(&mut len).map_err(|_| malformed(path, "payload length cut off"))?;
        let payload_len = u64::from_le_bytes(len);
        let expected = (start_len as u64 + 8).checked_add(payload_len).and_then(|l| l.checked_add(HASH_LEN as u64));
        match expected {
            Some(expected) if expected == file_len => {}
            Some(expected) if expected < file_len => return Err(malformed(path, "bytes after the checksum")),
            _ => return Err(malformed(path, "section cut off")),
        }
        let mut hasher = blake3::Hasher::new();
        hasher.update(&header_bytes);
        let mut reader = columns::ColumnReader::new(input, hasher, payload_len, path);
        let decoded = codec::decode(&mut reader).and_then(|decoded| {
            if reader.remaining() == 0 { Ok(decoded) } else { Err(malformed(path, "payload has trailing bytes")) }
        });
        if decoded.is_err() {
            // A corrupt file is reported as such, not as whatever the decoder tripped over first.
            reader.skip_rest()?;
        }
        let (hasher, mut input) = reader.into_parts();
        let mut checksum = [0u8; HASH_LEN];
        input.read_exact(&mut checksum).map_err(|_| malformed(path, "checksum cut off"))?;
        if hasher.finalize() != blake3::Hash::from_bytes(checksum) {
            return Err(BundleError::Checksum { path: path.to_owned() });
        }
        let decoded = decoded?;
        let header: BundleHeader =
            serde_json::from_slice(&header_bytes).map_err(|e| malformed(path, &format!("header JSON: {e}")))?;
        Ok((header, decoded))
    }
}

fn malformed(path: &Path, detail: &str) -> BundleError {
    BundleError::Malformed { path: path.to_owned(), detail: detail.to_owned() }
}

/// Reads magic, version and header JSON; returns the header bytes and how many bytes that was.
fn read_start(path: &Path, input: &mut impl Read) -> Result<(Vec<u8>, usize), BundleError> {
    let mut start = [0u8; FIXED];
    let mut got = 0;
    while got < FIXED {
        match input.read(&mut start[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => return Err(BundleError::Io { path: path.to_owned(), source }),
        }
    }
    if got >= 8 && &start[..8] != MAGIC {
        return Err(BundleError::NotABundle { path: path.to_owned() });
    }
    if got < FIXED {
        return Err(malformed(path, "shorter than its fixed header"));
    }
    let found = u32::from_le_bytes(start[8..12].try_into().expect("4 bytes"));
    if found != FORMAT_VERSION {
        return Err(BundleError::Version { path: path.to_owned(), found, expected: FORMAT_VERSION });
    }
    let len = u64::from_le_bytes(start[12..20].try_into().expect("8 bytes"));
    let len = usize::try_from(len).ok().filter(|l| *l < 64 << 20).ok_or_else(|| malformed(path, "header length"))?;
    let mut header = vec![0u8; len];
    input.read_exact(&mut header).map_err(|_| malformed(path, "header cut off"))?;
    Ok((header, FIXED + len))
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
    fn a_synthetic_bundle_round_trips_through_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.tcb");
        let bundle = crate::inference::synthetic::SyntheticParams::new(300, 40).build();
        bundle.write(&path).unwrap();
        // Debug forms, since NaN (unscored customers) is not equal to itself.
        assert_eq!(format!("{:?}", ModelBundle::read(&path).unwrap()), format!("{bundle:?}"));
        let (header, decoded) = ModelBundle::read_columns(&path).unwrap();
        assert_eq!(header, bundle.header);
        assert_eq!(decoded.ids.to_strings(), bundle.contents.customers.ids);
    }

    #[test]
    fn a_corrupt_column_length_is_a_checksum_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.tcb");
        tiny().write(&path).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let header_len = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
        // The first column's length, just after the payload length.
        bytes[FIXED + header_len + 8 + 7] = 0x7f;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(ModelBundle::read(&path), Err(BundleError::Checksum { .. })));
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
        version[8] = 1;
        std::fs::write(&path, &version).unwrap();
        let err = ModelBundle::read(&path).unwrap_err();
        assert!(err.to_string().contains("format version 1; this build reads version 2"), "{err}");
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
