//! Server configuration: embedded defaults, then a TOML file, then environment variables, validated once
//! at start-up. Key hashes are never printed: [`ServerConfig`]'s `Debug` shows key names and scopes only.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::auth::Scope;

/// The embedded defaults (also the commented reference of every key).
pub const DEFAULT_CONFIG: &str = include_str!("default_config.toml");
const ENV_PREFIX: &str = "TAGCENTER_";
const ENV_KEYS: &str = "TAGCENTER_API_KEYS";

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A layer is not valid TOML or does not fit the schema.
    #[error("config {layer}: {source}")]
    Parse {
        /// Which layer (`defaults`, the file, `environment`).
        layer: String,
        /// The error.
        source: toml::de::Error,
    },
    /// An environment variable cannot be applied.
    #[error("environment variable {name}: {detail}")]
    Env {
        /// The variable.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// A value is out of range or inconsistent.
    #[error("config: {0}")]
    Invalid(String),
}

/// Request limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Default `k` for recommendations and similar items.
    pub default_k: usize,
    /// Largest `k`; larger requests are capped.
    pub max_k: usize,
    /// Default at-risk page size.
    pub default_limit: usize,
    /// Largest at-risk page size; larger requests are capped.
    pub max_limit: usize,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Most items in a basket or an exclude list.
    pub max_items: usize,
}

/// One API key: a name for logs and metrics, the SHA-256 of the key, its scopes.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// Name (shown in logs instead of the key).
    pub name: String,
    /// SHA-256 of the key, 64 hex digits.
    pub sha256: String,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
}

impl fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyConfig")
            .field("name", &self.name)
            .field("sha256", &"<redacted>")
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// The whole server configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address (`127.0.0.1:8080`; port 0 picks a free port).
    pub bind: String,
    /// Bundle loaded at start and by a reload without a path.
    pub bundle: Option<PathBuf>,
    /// Worker threads; 0 = one per CPU.
    pub workers: usize,
    /// Seconds in-flight requests get after SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// Request limits.
    pub limits: Limits,
    /// API keys.
    #[serde(default)]
    pub keys: Vec<KeyConfig>,
}

fn parse_layer(layer: &str, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|source| ConfigError::Parse { layer: layer.to_owned(), source })
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn env_value(text: &str) -> toml::Value {
    // Numbers and booleans as such, anything else as a string.
    text.parse::<i64>()
        .map(toml::Value::Integer)
        .or_else(|_| text.parse::<bool>().map(toml::Value::Boolean))
        .unwrap_or_else(|_| toml::Value::String(text.to_owned()))
}

fn parse_env_keys(text: &str) -> Result<Vec<toml::Value>, ConfigError> {
    let env_err = |detail: String| ConfigError::Env { name: ENV_KEYS.to_owned(), detail };
    text.split([';', ','])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let mut parts = entry.split(':');
            let (Some(name), Some(scopes), Some(hash), None) = (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(env_err("entries are `name:scope+scope:sha256hex`".to_owned()));
            };
            let scopes = scopes.split('+').map(|s| toml::Value::String(s.trim().to_owned())).collect();
            let mut table = toml::Table::new();
            table.insert("name".into(), toml::Value::String(name.trim().to_owned()));
            table.insert("scopes".into(), toml::Value::Array(scopes));
            table.insert("sha256".into(), toml::Value::String(hash.trim().to_owned()));
            Ok(toml::Value::Table(table))
        })
        .collect()
}

impl ServerConfig {
    /// Layers the embedded defaults, `file` (when given) and the `TAGCENTER_*` variables among `env`, then
    /// validates the result.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<ServerConfig, ConfigError> {
        let mut table = parse_layer("defaults", DEFAULT_CONFIG)?;
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
            merge(&mut table, parse_layer(&path.display().to_string(), &text)?);
        }
        let mut env: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k.starts_with(ENV_PREFIX)).collect();
        env.sort();
        for (name, value) in env {
            if name == ENV_KEYS {
                let keys = parse_env_keys(&value)?;
                table.insert("keys".into(), toml::Value::Array(keys));
                continue;
            }
            let path: Vec<String> = name[ENV_PREFIX.len()..].split("__").map(|p| p.to_ascii_lowercase()).collect();
            if path.iter().any(String::is_empty) {
                return Err(ConfigError::Env { name, detail: "empty key segment".to_owned() });
            }
            let mut at = &mut table;
            for segment in &path[..path.len() - 1] {
                let entry = at.entry(segment.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
                at = entry.as_table_mut().ok_or_else(|| ConfigError::Env {
                    name: name.clone(),
                    detail: format!("`{segment}` is not a table"),
                })?;
            }
            at.insert(path[path.len() - 1].clone(), env_value(&value));
        }
        let config: ServerConfig = toml::Value::Table(table)
            .try_into()
            .map_err(|source| ConfigError::Parse { layer: "merged".to_owned(), source })?;
        config.validate()?;
        Ok(config)
    }

    /// A configuration with the embedded defaults only.
    pub fn defaults() -> Result<ServerConfig, ConfigError> {
        Self::load(None, std::iter::empty())
    }

    /// Checks ranges and key hashes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.bind.parse::<SocketAddr>().is_err() {
            return invalid(format!("bind {:?} is not an address like 127.0.0.1:8080", self.bind));
        }
        let l = &self.limits;
        if l.max_k == 0 || l.default_k == 0 || l.default_k > l.max_k || l.max_k > 10_000 {
            return invalid("limits: need 1 <= default_k <= max_k <= 10000".to_owned());
        }
        if l.max_limit == 0 || l.default_limit == 0 || l.default_limit > l.max_limit || l.max_limit > 100_000 {
            return invalid("limits: need 1 <= default_limit <= max_limit <= 100000".to_owned());
        }
        if l.max_body_bytes < 256 || l.max_body_bytes > 16 << 20 {
            return invalid("limits.max_body_bytes must be between 256 and 16 MiB".to_owned());
        }
        if l.max_items == 0 || l.max_items > 10_000 {
            return invalid("limits.max_items must be between 1 and 10000".to_owned());
        }
        for (i, key) in self.keys.iter().enumerate() {
            if key.name.trim().is_empty() {
                return invalid(format!("keys[{i}]: empty name"));
            }
            if key.sha256.len() != 64 || !key.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return invalid(format!(
                    "key {:?}: sha256 must be 64 hex digits (the key's hash, not the key)",
                    key.name
                ));
            }
            if key.scopes.is_empty() {
                return invalid(format!("key {:?}: no scopes", key.name));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_embedded_defaults_are_valid() {
        let config = ServerConfig::defaults().unwrap();
        assert_eq!(config.bind, "127.0.0.1:8080");
        assert_eq!(config.bundle, None);
        assert_eq!(config.limits.max_k, 100);
        assert!(config.keys.is_empty());
    }

    #[test]
    fn a_file_overrides_defaults_and_the_environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.toml");
        std::fs::write(&path, "bind = \"0.0.0.0:9000\"\nbundle = \"a.tcb\"\n[limits]\nmax_k = 50\n").unwrap();
        let hash = "ab".repeat(32);
        let config = ServerConfig::load(
            Some(&path),
            env(&[
                ("TAGCENTER_BUNDLE", "b.tcb"),
                ("TAGCENTER_LIMITS__MAX_LIMIT", "500"),
                ("TAGCENTER_API_KEYS", &format!("web:storefront:{hash};ops:crm+admin:{hash}")),
                ("PATH", "/usr/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(config.bind, "0.0.0.0:9000");
        assert_eq!(config.bundle, Some(PathBuf::from("b.tcb")));
        assert_eq!(config.limits.max_k, 50);
        assert_eq!(config.limits.max_limit, 500);
        assert_eq!(config.keys.len(), 2);
        assert_eq!(config.keys[1].scopes, vec![Scope::Crm, Scope::Admin]);
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        let err = ServerConfig::load(None, env(&[("TAGCENTER_LIMITS__MAX_K", "0")])).unwrap_err();
        assert!(err.to_string().contains("max_k"), "{err}");
        let err = ServerConfig::load(None, env(&[("TAGCENTER_API_KEYS", "web:storefront:secret")])).unwrap_err();
        assert!(err.to_string().contains("64 hex digits"), "{err}");
        assert!(!err.to_string().contains("secret"), "the key text is never echoed: {err}");
        let err = ServerConfig::load(None, env(&[("TAGCENTER_BIND", "nowhere")])).unwrap_err();
        assert!(err.to_string().contains("bind"), "{err}");
        assert!(ServerConfig::load(None, env(&[("TAGCENTER_NOPE", "1")])).is_err());
    }

    #[test]
    fn debug_output_never_shows_key_hashes() {
        let hash = "cd".repeat(32);
        let config =
            ServerConfig::load(None, env(&[("TAGCENTER_API_KEYS", &format!("web:storefront:{hash}"))])).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains(&hash));
        assert!(shown.contains("web"));
    }
}
