//! The tag dictionary and the active model's description: any valid key.

use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};

use super::{MODELS, TAGS, resource};
use crate::server::auth;
use crate::server::dto::{ModelResponse, TagDto, TagsResponse};
use crate::server::error::ApiError;
use crate::server::state::AppState;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(TAGS).wrap(from_fn(auth::any_key)).route(web::get().to(get_tags)))
        .service(resource(MODELS).wrap(from_fn(auth::any_key)).route(web::get().to(get_models)));
}

async fn get_tags(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let model = state.model()?;
    Ok(HttpResponse::Ok().json(TagsResponse {
        dictionary_version: &model.header().dictionary_version,
        tags: model.tags().iter().map(TagDto::from).collect(),
    }))
}

async fn get_models(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let model = state.model()?;
    Ok(HttpResponse::Ok().json(ModelResponse::new(&model)))
}
