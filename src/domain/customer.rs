//! Identifiers of customers: the unified ID tagcenter assigns, and the source-qualified keys
//! (`web:10342`, `card:8800123`) by which each channel knows a customer.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why a key could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text was empty or only white space.
    #[error("key is empty")]
    Empty,
    /// The text is longer than any key we issue or accept.
    #[error("key is {0} bytes long; at most {max} are accepted", max = SourceKey::MAX_LEN)]
    TooLong(usize),
    /// A source-qualified key needs `namespace:value`.
    #[error("key {0:?} has no `namespace:` prefix (expected e.g. `web:10342`)")]
    MissingNamespace(String),
    /// The namespace part has characters other than ASCII letters, digits, `_` and `-`.
    #[error("namespace {0:?} may only hold ASCII letters, digits, `_` and `-`")]
    BadNamespace(String),
    /// Control characters are never part of a key.
    #[error("key contains control characters")]
    ControlCharacter,
}

/// The unified customer ID: `C` followed by 14 lower-case hex digits.
///
/// It is derived from the smallest source-qualified record key of the customer's cluster, so reruns on the
/// same data give the same IDs and the ID does not depend on the order in which records were read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CustomerId(String);

impl CustomerId {
    const HEX_LEN: usize = 14;

    /// Derives the ID from the cluster's smallest record key (any stable, unique string).
    pub fn derive(anchor: &str) -> Self {
        Self::derive_with_salt(anchor, 0)
    }

    /// Like [`CustomerId::derive`], with a salt to step past a (very unlikely) collision.
    pub fn derive_with_salt(anchor: &str, salt: u32) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(anchor.as_bytes());
        if salt > 0 {
            hasher.update(salt.to_le_bytes());
        }
        let digest = hasher.finalize();
        let mut id = String::with_capacity(Self::HEX_LEN + 1);
        id.push('C');
        for byte in digest.iter().take(Self::HEX_LEN / 2) {
            id.push_str(&format!("{byte:02x}"));
        }
        Self(id)
    }

    /// Parses an ID issued by [`CustomerId::derive`]; `None` when the text is not of that form.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix('C')?;
        let ok = rest.len() == Self::HEX_LEN && rest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Self(text.to_owned()))
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key qualified by the namespace that issued it: a source's record key (`web:10342`, `pos:8800123`)
/// or an identity key (`email:ann@example.com`, `phone:8613800138000`, `card:8800123`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SourceKey {
    namespace: String,
    value: String,
}

impl SourceKey {
    /// The longest key text accepted.
    pub const MAX_LEN: usize = 512;

    /// Builds a key from its parts, validating both.
    pub fn new(namespace: &str, value: &str) -> Result<Self, KeyError> {
        if namespace.is_empty() {
            return Err(KeyError::MissingNamespace(value.to_owned()));
        }
        if !namespace.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(KeyError::BadNamespace(namespace.to_owned()));
        }
        let value = value.trim();
        if value.is_empty() {
            return Err(KeyError::Empty);
        }
        let len = namespace.len() + 1 + value.len();
        if len > Self::MAX_LEN {
            return Err(KeyError::TooLong(len));
        }
        if value.chars().any(char::is_control) {
            return Err(KeyError::ControlCharacter);
        }
        Ok(Self { namespace: namespace.to_owned(), value: value.to_owned() })
    }

    /// Parses `namespace:value`; the value may itself contain `:` (as in `pos:R:S014-20230502-01234`).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        if text.len() > Self::MAX_LEN {
            return Err(KeyError::TooLong(text.len()));
        }
        let (namespace, value) = text.split_once(':').ok_or_else(|| KeyError::MissingNamespace(text.to_owned()))?;
        Self::new(namespace, value)
    }

    /// The namespace (`web`, `card`, `email`, ...).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The value within the namespace.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for SourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.namespace, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn customer_id_is_stable_and_parses_back() {
        let a = CustomerId::derive("web:10342");
        assert_eq!(a, CustomerId::derive("web:10342"));
        assert_ne!(a, CustomerId::derive("web:10343"));
        assert_eq!(a.as_str().len(), 15);
        assert_eq!(CustomerId::parse(a.as_str()), Some(a.clone()));
        assert_ne!(CustomerId::derive_with_salt("web:10342", 1), a);
    }

    #[test]
    fn customer_id_rejects_other_text() {
        for bad in ["", "C", "c0123456789abcd", "C0123456789ABCD", "C0123456789abc", "X0123456789abcd"] {
            assert_eq!(CustomerId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn source_key_keeps_colons_in_the_value() {
        let key = SourceKey::parse("pos:R:S014-20230502-01234").unwrap();
        assert_eq!(key.namespace(), "pos");
        assert_eq!(key.value(), "R:S014-20230502-01234");
        assert_eq!(key.to_string(), "pos:R:S014-20230502-01234");
    }

    #[test]
    fn source_key_rejects_malformed_text() {
        assert_eq!(SourceKey::parse("   "), Err(KeyError::Empty));
        assert!(matches!(SourceKey::parse("10342"), Err(KeyError::MissingNamespace(_))));
        assert!(matches!(SourceKey::parse("we b:1"), Err(KeyError::BadNamespace(_))));
        assert_eq!(SourceKey::parse("web:"), Err(KeyError::Empty));
        assert_eq!(SourceKey::parse("web:a\u{0}b"), Err(KeyError::ControlCharacter));
        assert!(matches!(SourceKey::parse(&format!("web:{}", "9".repeat(600))), Err(KeyError::TooLong(_))));
    }

    proptest! {
        #[test]
        fn source_key_parse_never_panics(text in ".{0,80}") {
            let _ = SourceKey::parse(&text);
        }

        #[test]
        fn source_key_round_trips(ns in "[a-z][a-z0-9_]{0,10}", value in "[A-Za-z0-9:@._-]{1,40}") {
            let key = SourceKey::new(&ns, &value).unwrap();
            prop_assert_eq!(SourceKey::parse(&key.to_string()).unwrap(), key);
        }
    }
}
