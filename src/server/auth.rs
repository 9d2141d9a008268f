//! API keys with scopes. Keys arrive as `X-API-Key: <key>` or `Authorization: Bearer <key>`; only their
//! SHA-256 is stored, compared in constant time against every configured key. A missing or unknown key
//! is 401, a key without the route's scope 403. Keys are never logged; the key's configured name is.

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::config::KeyConfig;
use super::error::ApiError;
use super::state::AppState;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Recommendations and similar items: no personal data.
    Storefront,
    /// Profiles, scores, at-risk lists.
    Crm,
    /// Reloading the model.
    Admin,
}

/// Who called: the configured name of the key (put in the request extensions by the middleware).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Key name (shared with the key table: no copy per request).
    pub name: Arc<str>,
}

#[derive(Clone)]
struct KeyEntry {
    name: Arc<str>,
    hash: [u8; 32],
    scopes: Vec<Scope>,
}

/// The configured keys, by hash.
#[derive(Clone, Default)]
pub struct ApiKeys {
    entries: Vec<KeyEntry>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries.iter().map(|e| (&e.name, &e.scopes))).finish()
    }
}

/// The SHA-256 of a key as 64 lower-case hex digits (what the config stores).
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

impl ApiKeys {
    /// Builds the key table from validated config entries (entries with a malformed hash are skipped;
    /// [`ServerConfig::validate`](super::config::ServerConfig::validate) refuses them earlier).
    pub fn new(keys: &[KeyConfig]) -> Self {
        let entries = keys
            .iter()
            .filter_map(|k| {
                decode_hex(&k.sha256).map(|hash| KeyEntry {
                    name: k.name.as_str().into(),
                    hash,
                    scopes: k.scopes.clone(),
                })
            })
            .collect();
        Self { entries }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is configured (then every protected route answers 401).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks a presented key: the caller when it is known and holds one of `allowed`.
    pub fn authorize(&self, presented: Option<&str>, allowed: &[Scope]) -> Result<Caller, ApiError> {
        let presented = presented.filter(|k| !k.is_empty() && k.len() <= 512).ok_or(ApiError::MissingKey)?;
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        // Compare against every key, without stopping at a match.
        let mut matched = None;
        for entry in &self.entries {
            if bool::from(entry.hash.ct_eq(&digest)) {
                matched = Some(entry);
            }
        }
        let entry = matched.ok_or(ApiError::UnknownKey)?;
        if entry.scopes.iter().any(|s| allowed.contains(s)) {
            Ok(Caller { name: entry.name.clone() })
        } else {
            Err(ApiError::Forbidden { key: entry.name.to_string(), needs: allowed.to_vec() })
        }
    }
}

/// The key presented in the headers, if any.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get("x-api-key") {
        return value.to_str().ok().map(str::trim);
    }
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn check(
    allowed: &'static [Scope],
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let verdict = match req.app_data::<web::Data<AppState>>() {
        Some(state) => state.keys.authorize(presented_key(req.headers()), allowed),
        None => Err(ApiError::Internal("application state missing".to_owned())),
    };
    match verdict {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(err) => Ok(req.error_response(err).map_into_right_body()),
    }
}

/// Middleware for storefront routes (recommendations, similar items): `storefront` or `crm` keys.
pub async fn storefront(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    check(&[Scope::Storefront, Scope::Crm], req, next).await
}

/// Middleware for personal-data routes (profiles, scores, at-risk lists): `crm` keys.
pub async fn crm(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    check(&[Scope::Crm], req, next).await
}

/// Middleware for admin routes (reload): `admin` keys.
pub async fn admin(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    check(&[Scope::Admin], req, next).await
}

/// Middleware for catalog routes (tag dictionary, model info): any valid key.
pub async fn any_key(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    check(&[Scope::Storefront, Scope::Crm, Scope::Admin], req, next).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> ApiKeys {
        ApiKeys::new(&[
            KeyConfig { name: "web".into(), sha256: hash_key("s3cret-web"), scopes: vec![Scope::Storefront] },
            KeyConfig { name: "crm".into(), sha256: hash_key("s3cret-crm"), scopes: vec![Scope::Crm] },
        ])
    }

    #[test]
    fn a_known_key_with_the_scope_is_let_in() {
        let caller = keys().authorize(Some("s3cret-web"), &[Scope::Storefront, Scope::Crm]).unwrap();
        assert_eq!(&*caller.name, "web");
    }

    #[test]
    fn missing_unknown_and_out_of_scope_keys_are_told_apart() {
        let keys = keys();
        assert!(matches!(keys.authorize(None, &[Scope::Crm]), Err(ApiError::MissingKey)));
        assert!(matches!(keys.authorize(Some(""), &[Scope::Crm]), Err(ApiError::MissingKey)));
        assert!(matches!(keys.authorize(Some("guess"), &[Scope::Crm]), Err(ApiError::UnknownKey)));
        assert!(matches!(keys.authorize(Some("s3cret-web"), &[Scope::Crm]), Err(ApiError::Forbidden { .. })));
    }

    #[test]
    fn the_hash_matches_a_known_sha256() {
        assert_eq!(hash_key("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(!format!("{:?}", keys()).contains(&hash_key("s3cret-web")));
    }
}
