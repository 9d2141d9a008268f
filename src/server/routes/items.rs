//! Item routes for storefronts: similar items, and recommendations for an anonymous basket.

use actix_web::http::header::ContentType;
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{BASKET_RECS, SIMILAR, cap_k, category, items, resource};
use crate::inference::InferenceError;
use crate::inference::recommend::RecQuery;
use crate::server::auth;
use crate::server::dto::{BasketRequest, RecItem, SimilarResponse};
use crate::server::error::ApiError;
use crate::server::state::AppState;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(SIMILAR).wrap(from_fn(auth::storefront)).route(web::get().to(get_similar)))
        .service(resource(BASKET_RECS).wrap(from_fn(auth::storefront)).route(web::post().to(post_basket)));
}

/// Query of `GET /v1/items/{item}/similar`.
#[derive(Debug, Deserialize)]
struct SimilarParams {
    k: Option<u32>,
    category: Option<String>,
    exclude: Option<String>,
}

async fn get_similar(
    state: web::Data<AppState>,
    item: web::Path<String>,
    params: web::Query<SimilarParams>,
) -> Result<HttpResponse, ApiError> {
    let model = state.model()?;
    let item = model.item(&item)?;
    let (exclude, _) = items(&state, &model, params.exclude.as_deref().unwrap_or("").split(','), "exclude")?;
    let query =
        RecQuery { k: cap_k(&state, params.k)?, category: category(&model, params.category.as_deref())?, exclude };
    let similar = model.similar(item, &query);
    Ok(HttpResponse::Ok().json(SimilarResponse {
        item: model.item_id(item),
        items: similar.iter().map(|r| RecItem::new(&model, r)).collect(),
        model_version: model.version(),
    }))
}

async fn post_basket(state: web::Data<AppState>, body: web::Json<BasketRequest>) -> Result<HttpResponse, ApiError> {
    let served = state.served()?;
    let model = &served.model;
    let body = body.into_inner();
    let (basket, unknown) = items(&state, model, body.items.iter().map(String::as_str), "items")?;
    let (exclude, _) = items(&state, model, body.exclude.iter().map(String::as_str), "exclude")?;
    let customer = match body.customer.as_deref().map(|k| model.resolve(k)) {
        None | Some(Err(InferenceError::UnknownCustomer(_))) => None,
        Some(Ok(c)) => Some(c),
        Some(Err(err)) => return Err(err.into()),
    };
    let query = RecQuery { k: cap_k(&state, body.k)?, category: category(model, body.category.as_deref())?, exclude };
    let list = model.recommend_for_basket(&basket, customer, &query);
    let body = served.fragments.recommendations(model, customer, &list, &unknown);
    Ok(HttpResponse::Ok().content_type(ContentType::json()).body(body))
}
