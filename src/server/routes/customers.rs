//! Per-customer routes: profile, churn, recommendations, promotion timing. `{key}` is the unified
//! customer ID or a source-qualified key (`web:10342`).

use actix_web::http::header::ContentType;
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{CHURN, CUSTOMER, CUSTOMER_RECS, TIMING, cap_k, category, items, resource};
use crate::inference::InferenceError;
use crate::inference::recommend::RecQuery;
use crate::server::auth;
use crate::server::dto::{ChurnResponse, CustomerResponse, TimingResponse};
use crate::server::error::ApiError;
use crate::server::state::AppState;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Hot routes first: each dynamic pattern tried before the match costs a regex run.
    cfg.service(resource(CUSTOMER_RECS).wrap(from_fn(auth::storefront)).route(web::get().to(get_recommendations)))
        .service(resource(CHURN).wrap(from_fn(auth::crm)).route(web::get().to(get_churn)))
        .service(resource(TIMING).wrap(from_fn(auth::crm)).route(web::get().to(get_timing)))
        .service(resource(CUSTOMER).wrap(from_fn(auth::crm)).route(web::get().to(get_customer)));
}

/// Query of `GET /v1/customers/{key}/recommendations`.
#[derive(Debug, Deserialize)]
struct RecParams {
    k: Option<u32>,
    category: Option<String>,
    exclude: Option<String>,
}

async fn get_customer(state: web::Data<AppState>, key: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let model = state.model()?;
    let c = model.resolve(&key)?;
    let recs = model.recommend(Some(c), &RecQuery { k: state.config.limits.default_k, ..RecQuery::default() });
    Ok(HttpResponse::Ok().json(CustomerResponse::new(&model, c, &recs)))
}

async fn get_churn(state: web::Data<AppState>, key: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let model = state.model()?;
    let c = model.resolve(&key)?;
    Ok(HttpResponse::Ok().json(ChurnResponse::new(&model, c)))
}

async fn get_timing(state: web::Data<AppState>, key: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let model = state.model()?;
    let c = model.resolve(&key)?;
    Ok(HttpResponse::Ok().json(TimingResponse::new(&model, c)))
}

async fn get_recommendations(
    state: web::Data<AppState>,
    key: web::Path<String>,
    params: web::Query<RecParams>,
) -> Result<HttpResponse, ApiError> {
    let served = state.served()?;
    let model = &served.model;
    let customer = match model.resolve(&key) {
        Ok(c) => Some(c),
        // A customer the model has never seen gets the popularity fallback.
        Err(InferenceError::UnknownCustomer(_)) => None,
        Err(err) => return Err(err.into()),
    };
    let (exclude, _) = items(&state, model, params.exclude.as_deref().unwrap_or("").split(','), "exclude")?;
    let query =
        RecQuery { k: cap_k(&state, params.k)?, category: category(model, params.category.as_deref())?, exclude };
    let list = model.recommend(customer, &query);
    let body = served.fragments.recommendations(model, customer, &list, &[]);
    Ok(HttpResponse::Ok().content_type(ContentType::json()).body(body))
}
