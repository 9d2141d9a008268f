//! The one mapping from failures to HTTP: every error is a JSON body `{"error": {"code", "message"}}` with
//! the matching status. Extractor failures (bad query strings, undecodable paths, oversized or malformed
//! JSON bodies) are routed here too, so clients never see actix's plain-text errors.

use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use super::auth::Scope;
use crate::inference::{InferenceError, ModelError};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter is malformed or out of range.
    #[error("{0}")]
    BadParameter(String),
    /// The request asks about something the model does not know.
    #[error(transparent)]
    Inference(#[from] InferenceError),
    /// No such route.
    #[error("no such route: {0}")]
    RouteNotFound(String),
    /// The route exists but not for this method.
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// No API key was presented.
    #[error("an API key is required (X-API-Key header or Authorization: Bearer)")]
    MissingKey,
    /// The presented key is not configured.
    #[error("unknown API key")]
    UnknownKey,
    /// The key lacks the route's scope.
    #[error("key {key:?} lacks the scope for this route (needs one of {needs:?})")]
    Forbidden {
        /// The key's configured name.
        key: String,
        /// The scopes that would do.
        needs: Vec<Scope>,
    },
    /// The body is larger than allowed.
    #[error("request body too large (limit {limit} bytes)")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body's media type is not JSON.
    #[error("expected a JSON body (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// No model is loaded yet.
    #[error("no model is loaded yet; load one with POST /v1/admin/reload")]
    NoModel,
    /// A reload failed; the previous model keeps serving.
    #[error("bundle rejected, previous model keeps serving: {0}")]
    BadBundle(#[from] ModelError),
    /// A bug or a failed background task.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The wire body of every error.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// The error.
    pub error: ErrorDetail<'a>,
}

/// The code and message of an error.
#[derive(Debug, Serialize)]
pub struct ErrorDetail<'a> {
    /// Stable, machine-readable code (`unknown_customer`, `bad_parameter`, ...).
    pub code: &'a str,
    /// Human-readable explanation.
    pub message: String,
}

impl ApiError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadParameter(_) => "bad_parameter",
            Self::Inference(e) => match e {
                InferenceError::BadKey(_) => "bad_customer_key",
                InferenceError::UnknownCustomer(_) => "unknown_customer",
                InferenceError::UnknownItem(_) => "unknown_item",
                InferenceError::UnknownCategory(_) => "unknown_category",
                InferenceError::UnknownTag(_) => "unknown_tag",
                InferenceError::BadTagFilter(_) => "bad_tag_filter",
                InferenceError::BadCursor => "bad_cursor",
                InferenceError::StaleCursor => "stale_cursor",
            },
            Self::RouteNotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::MissingKey => "missing_api_key",
            Self::UnknownKey => "invalid_api_key",
            Self::Forbidden { .. } => "forbidden",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::NoModel => "no_model",
            Self::BadBundle(_) => "bad_bundle",
            Self::Internal(_) => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadParameter(_) => StatusCode::BAD_REQUEST,
            Self::Inference(e) => match e {
                InferenceError::UnknownCustomer(_) | InferenceError::UnknownItem(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::BAD_REQUEST,
            },
            Self::RouteNotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::MissingKey | Self::UnknownKey => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NoModel => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadBundle(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::warn!(code = self.code(), error = %self, "request failed");
        }
        let mut response = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        response.json(ErrorBody { error: ErrorDetail { code: self.code(), message: self.to_string() } })
    }
}

/// Maps a query-string parse failure to a 400.
pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::BadParameter(format!("bad query string: {err}")).into()
}

/// Maps a path parse failure (invalid UTF-8 in a percent-encoded segment, ...) to a 400.
pub fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::BadParameter(format!("bad path: {err}")).into()
}

/// Maps a JSON body failure: too large 413, wrong media type 415, anything else 400.
pub fn json_error(limit: usize) -> impl Fn(JsonPayloadError, &HttpRequest) -> actix_web::Error + Send + Sync {
    move |err, _req| {
        match err {
            JsonPayloadError::Overflow { .. }
            | JsonPayloadError::OverflowKnownLength { .. }
            | JsonPayloadError::Payload(PayloadError::Overflow) => ApiError::PayloadTooLarge { limit },
            JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
            other => ApiError::BadParameter(format!("bad JSON body: {other}")),
        }
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn errors_render_as_json_with_code_and_message() {
        let err = ApiError::Inference(InferenceError::UnknownCustomer("web:1".into()));
        assert_eq!(err.status_code(), StatusCode::NOT_FOUND);
        let body = to_bytes(err.error_response().into_body()).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "unknown_customer");
        assert!(json["error"]["message"].as_str().unwrap().contains("web:1"));
    }

    #[test]
    fn statuses_follow_the_contract() {
        assert_eq!(ApiError::NoModel.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ApiError::MissingKey.status_code(), StatusCode::UNAUTHORIZED);
        assert_eq!(ApiError::PayloadTooLarge { limit: 1 }.status_code(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(ApiError::Inference(InferenceError::BadCursor).status_code(), StatusCode::BAD_REQUEST);
    }
}
