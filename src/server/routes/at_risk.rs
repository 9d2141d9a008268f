//! `GET /v1/at-risk`: customers ranked by value at risk, paginated by cursor as JSON, or the whole list
//! streamed as CSV (`Accept: text/csv` or `format=csv`) in chunks, without building it in memory.

use std::convert::Infallible;
use std::sync::Arc;

use actix_web::http::header::ACCEPT;
use actix_web::middleware::from_fn;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{AT_RISK, resource};
use crate::inference::Model;
use crate::inference::at_risk::{AtRiskFilter, Cursor, TagFilter};
use crate::server::auth;
use crate::server::dto::{AtRiskEntry, AtRiskResponse};
use crate::server::error::ApiError;
use crate::server::state::AppState;

/// Rows per streamed CSV chunk, and ranking positions examined per chunk at most.
const CSV_CHUNK_ROWS: usize = 2_000;
const CSV_CHUNK_SCAN: usize = 50_000;

/// Registers the route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(AT_RISK).wrap(from_fn(auth::crm)).route(web::get().to(get_at_risk)));
}

/// Query of `GET /v1/at-risk`.
#[derive(Debug, Deserialize)]
struct AtRiskParams {
    min_probability: Option<f64>,
    tag: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
    format: Option<String>,
}

async fn get_at_risk(
    state: web::Data<AppState>,
    req: HttpRequest,
    params: web::Query<AtRiskParams>,
) -> Result<HttpResponse, ApiError> {
    let model = state.model()?;
    let min_probability = match params.min_probability {
        None => 0.0,
        Some(p) if p.is_finite() && (0.0..=1.0).contains(&p) => p as f32,
        Some(_) => return Err(ApiError::BadParameter("min_probability must be between 0 and 1".to_owned())),
    };
    let tag = match params.tag.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(text) => Some(TagFilter::parse(&model, text)?),
        None => None,
    };
    let filter = AtRiskFilter { min_probability, tag };
    let csv = match params.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            return Err(ApiError::BadParameter(format!("format must be json or csv, not {:?}", truncate(other))));
        }
        None => req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/csv")),
    };
    if csv {
        return Ok(stream_csv(model, filter));
    }
    let limit = match params.limit {
        None => state.config.limits.default_limit,
        Some(0) => return Err(ApiError::BadParameter("limit must be at least 1".to_owned())),
        Some(l) => (l as usize).min(state.config.limits.max_limit),
    };
    let cursor = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(text) => Some(Cursor::decode(&model, text)?),
        None => None,
    };
    let page = model.at_risk_page(&filter, limit, cursor);
    Ok(HttpResponse::Ok().json(AtRiskResponse {
        customers: page.customers.iter().map(|&c| AtRiskEntry::new(&model, c)).collect(),
        next_cursor: page.next.map(Cursor::encode),
        model_version: model.version(),
    }))
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Streams the whole filtered list as CSV. The stream holds its own snapshot of the model, so a reload
/// during a long download does not change what the download contains.
fn stream_csv(model: Arc<Model>, filter: AtRiskFilter) -> HttpResponse {
    let version = model.version().to_owned();
    let chunks = futures_util::stream::unfold(Some(0usize), move |position| {
        let model = Arc::clone(&model);
        let filter = filter.clone();
        async move {
            let start = position?;
            let mut out = String::with_capacity(CSV_CHUNK_ROWS * 120);
            if start == 0 {
                out.push_str(AtRiskEntry::CSV_HEADER);
            }
            let (customers, next) = model.at_risk_scan(&filter, start, CSV_CHUNK_ROWS, CSV_CHUNK_SCAN);
            for c in customers {
                AtRiskEntry::new(&model, c).write_csv(&mut out);
            }
            let state = (next < model.at_risk_len()).then_some(next);
            Some((Ok::<_, Infallible>(Bytes::from(out)), state))
        }
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"at-risk.csv\""))
        .insert_header(("X-Model-Version", version))
        .streaming(chunks)
}
