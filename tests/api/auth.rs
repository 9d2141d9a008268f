//! Scope rules: every protected route with no key, an unknown key, and each scope's key.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN_KEY, CRM_KEY, STOREFRONT_KEY, TestApp, spawn_app};

async fn call(app: &TestApp, method: &Method, path: &str, key: Option<&str>) -> StatusCode {
    let url = format!("{}{path}", app.address);
    let mut request = app.client.request(method.clone(), url);
    if *method == Method::POST {
        let body = if path.contains("reload") { json!({}) } else { json!({ "items": ["SKU000001"] }) };
        request = request.json(&body);
    }
    if let Some(key) = key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn each_route_admits_exactly_its_scopes() {
    let app = spawn_app().await;
    let ok = StatusCode::OK;
    let no = StatusCode::FORBIDDEN;
    // (method, path, storefront, crm, admin)
    let table = [
        (Method::GET, "/v1/customers/web:1", no, ok, no),
        (Method::GET, "/v1/customers/web:1/churn", no, ok, no),
        (Method::GET, "/v1/customers/web:1/promotion-timing", no, ok, no),
        (Method::GET, "/v1/at-risk?limit=5", no, ok, no),
        (Method::GET, "/v1/customers/web:1/recommendations", ok, ok, no),
        (Method::GET, "/v1/items/SKU000001/similar", ok, ok, no),
        (Method::POST, "/v1/recommendations", ok, ok, no),
        (Method::GET, "/v1/tags", ok, ok, ok),
        (Method::GET, "/v1/models", ok, ok, ok),
        (Method::POST, "/v1/admin/reload", no, no, ok),
    ];
    for (method, path, storefront, crm, admin) in table {
        assert_eq!(call(&app, &method, path, None).await, StatusCode::UNAUTHORIZED, "{method} {path} without a key");
        assert_eq!(call(&app, &method, path, Some("wrong-key")).await, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(call(&app, &method, path, Some(STOREFRONT_KEY)).await, storefront, "{method} {path} storefront");
        assert_eq!(call(&app, &method, path, Some(CRM_KEY)).await, crm, "{method} {path} crm");
        assert_eq!(call(&app, &method, path, Some(ADMIN_KEY)).await, admin, "{method} {path} admin");
    }
}

#[tokio::test]
async fn auth_errors_are_json_and_never_echo_the_key() {
    let app = spawn_app().await;
    let missing = app.get("/v1/customers/web:1/churn", None).await;
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    crate::helpers::assert_error(missing, StatusCode::UNAUTHORIZED, "missing_api_key").await;
    let wrong = app.get("/v1/customers/web:1/churn", Some("my-secret-guess")).await;
    let text = wrong.text().await.unwrap();
    assert!(text.contains("invalid_api_key") && !text.contains("my-secret-guess"), "{text}");
    let forbidden = app.get("/v1/customers/web:1/churn", Some(STOREFRONT_KEY)).await;
    let text = forbidden.text().await.unwrap();
    assert!(text.contains("forbidden") && !text.contains(STOREFRONT_KEY), "{text}");
}
