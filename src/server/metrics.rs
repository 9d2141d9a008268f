//! Request metrics in the Prometheus text format: requests by route and status class, a latency histogram
//! per route, errors, reloads, and the active model version. Counters are lock-free atomics in a table
//! fixed at start-up (one row per route pattern), so recording costs a few atomic adds.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, web};

use super::routes::ROUTES;
use super::state::AppState;

/// Latency bucket bounds, seconds.
const BUCKETS: [f64; 14] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
const UNMATCHED: &str = "unmatched";

#[derive(Debug)]
struct RouteMetrics {
    route: &'static str,
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    by_class: [AtomicU64; 5],
}

impl RouteMetrics {
    fn new(route: &'static str) -> Self {
        Self {
            route,
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
            by_class: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// All counters.
#[derive(Debug)]
pub struct Metrics {
    routes: Vec<RouteMetrics>,
    model_version: Mutex<Option<String>>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    started: Instant,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty counters for every known route (and one row for unmatched paths).
    pub fn new() -> Self {
        let routes = ROUTES.iter().copied().chain([UNMATCHED]).map(RouteMetrics::new).collect();
        Self {
            routes,
            model_version: Mutex::new(None),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// Records one request.
    pub fn observe(&self, route: Option<&str>, status: StatusCode, elapsed: Duration) {
        let route = route.unwrap_or(UNMATCHED);
        let Some(row) = self.routes.iter().find(|r| r.route == route).or_else(|| self.routes.last()) else {
            return;
        };
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS.iter().position(|&b| seconds <= b).unwrap_or(BUCKETS.len());
        row.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        row.sum_nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        row.by_class[class].fetch_add(1, Ordering::Relaxed);
    }

    /// Records the version now serving.
    pub fn record_model(&self, version: &str) {
        if let Ok(mut v) = self.model_version.lock() {
            *v = Some(version.to_owned());
        }
    }

    /// Records a reload attempt.
    pub fn record_reload(&self, ok: bool) {
        let counter = if ok { &self.reloads_ok } else { &self.reloads_failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Renders every metric in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let _ = self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "# HELP tagcenter_http_requests_total HTTP requests by route and status class.")?;
        writeln!(out, "# TYPE tagcenter_http_requests_total counter")?;
        for row in &self.routes {
            for (i, count) in row.by_class.iter().enumerate() {
                let count = count.load(Ordering::Relaxed);
                if count > 0 {
                    writeln!(
                        out,
                        "tagcenter_http_requests_total{{route=\"{}\",status=\"{}xx\"}} {count}",
                        row.route,
                        i + 1
                    )?;
                }
            }
        }
        writeln!(out, "# HELP tagcenter_http_errors_total HTTP responses with a 4xx or 5xx status, by route.")?;
        writeln!(out, "# TYPE tagcenter_http_errors_total counter")?;
        for row in &self.routes {
            let errors = row.by_class[3].load(Ordering::Relaxed) + row.by_class[4].load(Ordering::Relaxed);
            writeln!(out, "tagcenter_http_errors_total{{route=\"{}\"}} {errors}", row.route)?;
        }
        writeln!(out, "# HELP tagcenter_http_request_duration_seconds Request latency by route.")?;
        writeln!(out, "# TYPE tagcenter_http_request_duration_seconds histogram")?;
        for row in &self.routes {
            let mut cumulative = 0;
            for (i, bucket) in row.buckets.iter().enumerate() {
                cumulative += bucket.load(Ordering::Relaxed);
                let le = BUCKETS.get(i).map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
                writeln!(
                    out,
                    "tagcenter_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{le}\"}} {cumulative}",
                    row.route
                )?;
            }
            let sum = row.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            writeln!(out, "tagcenter_http_request_duration_seconds_sum{{route=\"{}\"}} {sum}", row.route)?;
            writeln!(out, "tagcenter_http_request_duration_seconds_count{{route=\"{}\"}} {cumulative}", row.route)?;
        }
        writeln!(out, "# HELP tagcenter_model_info The model version serving (1), absent before the first load.")?;
        writeln!(out, "# TYPE tagcenter_model_info gauge")?;
        let version = self.model_version.lock().ok().and_then(|v| v.clone());
        if let Some(version) = &version {
            let escaped = version.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            writeln!(out, "tagcenter_model_info{{version=\"{escaped}\"}} 1")?;
        }
        writeln!(out, "# HELP tagcenter_model_loaded Whether a model is loaded.")?;
        writeln!(out, "# TYPE tagcenter_model_loaded gauge")?;
        writeln!(out, "tagcenter_model_loaded {}", u8::from(version.is_some()))?;
        writeln!(out, "# HELP tagcenter_model_reloads_total Reload attempts by result.")?;
        writeln!(out, "# TYPE tagcenter_model_reloads_total counter")?;
        writeln!(out, "tagcenter_model_reloads_total{{result=\"ok\"}} {}", self.reloads_ok.load(Ordering::Relaxed))?;
        writeln!(
            out,
            "tagcenter_model_reloads_total{{result=\"error\"}} {}",
            self.reloads_failed.load(Ordering::Relaxed)
        )?;
        writeln!(out, "# HELP tagcenter_uptime_seconds Seconds since the server started.")?;
        writeln!(out, "# TYPE tagcenter_uptime_seconds gauge")?;
        writeln!(out, "tagcenter_uptime_seconds {}", self.started.elapsed().as_secs_f64())
    }
}

/// Middleware that times every request and records it under its route pattern.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let result = next.call(req).await;
    if let Some(state) = state {
        let elapsed = started.elapsed();
        match &result {
            Ok(res) => {
                let route = res.request().match_name();
                state.metrics.observe(route, res.status(), elapsed);
                tracing::debug!(
                    route = route.unwrap_or(UNMATCHED),
                    status = res.status().as_u16(),
                    micros = elapsed.as_micros() as u64,
                    "request"
                );
            }
            Err(err) => state.metrics.observe(None, err.as_response_error().status_code(), elapsed),
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_routes_labelled() {
        let metrics = Metrics::new();
        let route = ROUTES[0];
        metrics.observe(Some(route), StatusCode::OK, Duration::from_micros(50));
        metrics.observe(Some(route), StatusCode::NOT_FOUND, Duration::from_millis(3));
        metrics.observe(Some("/nope"), StatusCode::NOT_FOUND, Duration::from_millis(3));
        metrics.record_model("v1");
        let text = metrics.render();
        assert!(
            text.contains(&format!(
                "tagcenter_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"0.0001\"}} 1"
            ))
        );
        assert!(text.contains(&format!("tagcenter_http_request_duration_seconds_count{{route=\"{route}\"}} 2")));
        assert!(text.contains(&format!("tagcenter_http_requests_total{{route=\"{route}\",status=\"4xx\"}} 1")));
        assert!(text.contains("tagcenter_http_errors_total{route=\"unmatched\"} 1"));
        assert!(text.contains("tagcenter_model_info{version=\"v1\"} 1"));
    }
}
