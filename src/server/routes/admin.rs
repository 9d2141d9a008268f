//! `POST /v1/admin/reload`: load a bundle and swap it in atomically; a bad bundle is refused (422) and the
//! previous model keeps serving.

use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;

use super::{RELOAD, resource};
use crate::server::auth;
use crate::server::dto::{ReloadRequest, ReloadResponse};
use crate::server::error::ApiError;
use crate::server::state::AppState;

/// Registers the route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(RELOAD).wrap(from_fn(auth::admin)).route(web::post().to(post_reload)));
}

async fn post_reload(state: web::Data<AppState>, mut payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let limit = state.config.limits.max_body_bytes;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadParameter(format!("cannot read body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    let request: ReloadRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReloadRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadParameter(format!("bad JSON body: {e}")))?
    };
    let outcome = state.reload(request.path.as_deref()).await?;
    Ok(HttpResponse::Ok().json(ReloadResponse {
        model_version: outcome.model_version,
        previous_version: outcome.previous_version,
        path: outcome.path.display().to_string(),
        load_ms: outcome.load_ms,
    }))
}
