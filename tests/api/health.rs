//! Health, readiness, metrics, OpenAPI and docs.

use reqwest::StatusCode;

use crate::helpers::{CRM_KEY, spawn_app, spawn_app_without_bundle};

#[tokio::test]
async fn health_and_readiness_answer_without_a_key() {
    let app = spawn_app().await;
    let health = app.get_json("/healthz", None, StatusCode::OK).await;
    assert_eq!(health["status"], "ok");
    let ready = app.get_json("/readyz", None, StatusCode::OK).await;
    assert_eq!(ready["model_version"], "v1");
}

#[tokio::test]
async fn without_a_bundle_the_service_is_alive_but_not_ready_until_a_reload() {
    let app = spawn_app_without_bundle().await;
    app.get_json("/healthz", None, StatusCode::OK).await;
    crate::helpers::assert_error(app.get("/readyz", None).await, StatusCode::SERVICE_UNAVAILABLE, "no_model").await;
    crate::helpers::assert_error(app.churn("web:1").await, StatusCode::SERVICE_UNAVAILABLE, "no_model").await;
    crate::helpers::assert_error(app.recommendations("web:1", "").await, StatusCode::SERVICE_UNAVAILABLE, "no_model")
        .await;

    crate::helpers::write_bundle(&app.bundle_path, "late");
    let reload = app.reload(None).await;
    assert_eq!(reload.status(), StatusCode::OK);
    let body: serde_json::Value = reload.json().await.unwrap();
    assert_eq!(body["model_version"], "late");
    assert!(body["previous_version"].is_null());
    let ready = app.get_json("/readyz", None, StatusCode::OK).await;
    assert_eq!(ready["model_version"], "late");
    assert_eq!(app.churn("web:1").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_requests_per_route_pattern_and_show_the_model_version() {
    let app = spawn_app().await;
    for key in ["web:1", "web:2", "web:999999"] {
        app.churn(key).await;
    }
    let text = app.get("/metrics", None).await.text().await.unwrap();
    let route = "route=\"/v1/customers/{key}/churn\"";
    assert!(text.contains(&format!("tagcenter_http_requests_total{{{route},status=\"2xx\"}} 2")), "{text}");
    assert!(text.contains(&format!("tagcenter_http_requests_total{{{route},status=\"4xx\"}} 1")), "{text}");
    assert!(text.contains(&format!("tagcenter_http_request_duration_seconds_count{{{route}}} 3")), "{text}");
    assert!(text.contains("tagcenter_model_info{version=\"v1\"} 1"));
    assert!(!text.contains("web:1"), "raw paths never become labels");
}

#[tokio::test]
async fn the_openapi_document_and_docs_page_are_served() {
    let app = spawn_app().await;
    let doc = app.get_json("/openapi.json", None, StatusCode::OK).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/customers/{key}/recommendations"]["get"].is_object());
    let page = app.get("/docs", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("/openapi.json"));
    let models = app.get_json("/v1/models", Some(CRM_KEY), StatusCode::OK).await;
    assert_eq!(models["customers"], 2000);
}
