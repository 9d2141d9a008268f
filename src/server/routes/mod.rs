//! Route files, one `configure` each, and the route table shared with the metrics and the OpenAPI
//! document. Every resource is named after its pattern, so metrics label requests by pattern, never by
//! the raw path (which would hold customer keys).

mod admin;
mod at_risk;
mod catalog;
mod customers;
mod health;
mod items;

use actix_web::{HttpRequest, HttpResponse, web};

use super::error::ApiError;
use super::state::AppState;
use crate::inference::{ItemIdx, Model};

/// `GET /healthz`.
pub const HEALTHZ: &str = "/healthz";
/// `GET /readyz`.
pub const READYZ: &str = "/readyz";
/// `GET /metrics`.
pub const METRICS: &str = "/metrics";
/// `GET /openapi.json`.
pub const OPENAPI: &str = "/openapi.json";
/// `GET /docs`.
pub const DOCS: &str = "/docs";
/// `GET /v1/customers/{key}`.
pub const CUSTOMER: &str = "/v1/customers/{key}";
/// `GET /v1/customers/{key}/churn`.
pub const CHURN: &str = "/v1/customers/{key}/churn";
/// `GET /v1/customers/{key}/recommendations`.
pub const CUSTOMER_RECS: &str = "/v1/customers/{key}/recommendations";
/// `GET /v1/customers/{key}/promotion-timing`.
pub const TIMING: &str = "/v1/customers/{key}/promotion-timing";
/// `GET /v1/items/{item}/similar`.
pub const SIMILAR: &str = "/v1/items/{item}/similar";
/// `POST /v1/recommendations`.
pub const BASKET_RECS: &str = "/v1/recommendations";
/// `GET /v1/at-risk`.
pub const AT_RISK: &str = "/v1/at-risk";
/// `GET /v1/tags`.
pub const TAGS: &str = "/v1/tags";
/// `GET /v1/models`.
pub const MODELS: &str = "/v1/models";
/// `POST /v1/admin/reload`.
pub const RELOAD: &str = "/v1/admin/reload";

/// Every route pattern.
pub const ROUTES: &[&str] = &[
    HEALTHZ,
    READYZ,
    METRICS,
    OPENAPI,
    DOCS,
    CUSTOMER,
    CHURN,
    CUSTOMER_RECS,
    TIMING,
    SIMILAR,
    BASKET_RECS,
    AT_RISK,
    TAGS,
    MODELS,
    RELOAD,
];

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(customers::configure)
        .configure(items::configure)
        .configure(health::configure)
        .configure(at_risk::configure)
        .configure(catalog::configure)
        .configure(admin::configure);
}

/// A resource named after its pattern, answering wrong methods with a JSON 405.
fn resource(pattern: &'static str) -> actix_web::Resource {
    web::resource(pattern).name(pattern).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(req.method().to_string()))
}

/// The answer for paths no route matches.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let mut path = req.path().to_owned();
    if path.len() > 200 {
        path.truncate(path.char_indices().nth(200).map_or(path.len(), |(i, _)| i));
    }
    Err(ApiError::RouteNotFound(path))
}

/// `k` with its default; 0 is refused, values above the maximum are capped.
fn cap_k(state: &AppState, k: Option<u32>) -> Result<usize, ApiError> {
    let limits = &state.config.limits;
    match k {
        None => Ok(limits.default_k),
        Some(0) => Err(ApiError::BadParameter("k must be at least 1".to_owned())),
        Some(k) => Ok((k as usize).min(limits.max_k)),
    }
}

/// A category name (empty = none) to its index.
fn category(model: &Model, name: Option<&str>) -> Result<Option<u16>, ApiError> {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok(None),
        Some(name) => Ok(Some(model.category(name)?)),
    }
}

/// Item IDs to indices, refusing overlong lists; unknown IDs are returned apart.
fn items<'a>(
    state: &AppState,
    model: &Model,
    ids: impl Iterator<Item = &'a str>,
    what: &str,
) -> Result<(Vec<ItemIdx>, Vec<String>), ApiError> {
    let max = state.config.limits.max_items;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for (n, id) in ids.map(str::trim).filter(|id| !id.is_empty()).enumerate() {
        if n >= max {
            return Err(ApiError::BadParameter(format!("{what} holds more than {max} items")));
        }
        match model.item(id) {
            Ok(i) => known.push(i),
            Err(_) => unknown.push(id.chars().take(100).collect()),
        }
    }
    Ok((known, unknown))
}
