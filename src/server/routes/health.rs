//! Liveness, readiness, metrics and API documentation: outside authentication.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{DOCS, HEALTHZ, METRICS, OPENAPI, READYZ, resource};
use crate::server::error::ApiError;
use crate::server::openapi;
use crate::server::state::AppState;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(HEALTHZ).route(web::get().to(healthz)))
        .service(resource(READYZ).route(web::get().to(readyz)))
        .service(resource(METRICS).route(web::get().to(metrics)))
        .service(resource(OPENAPI).route(web::get().to(openapi_json)))
        .service(resource(DOCS).route(web::get().to(docs)));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let model = state.model()?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ready", "model_version": model.version() })))
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(state.metrics.render())
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(openapi::document())
}

async fn docs() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(openapi::DOCS_PAGE)
}
