//! Error contract: JSON bodies with the right status for bad input, unknown things, oversized bodies.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{CRM_KEY, STOREFRONT_KEY, assert_error, spawn_app};

#[tokio::test]
async fn bad_parameters_are_400_with_a_code() {
    let app = spawn_app().await;
    let cases = [
        ("/v1/customers/nonsense/churn", CRM_KEY, "bad_customer_key"),
        ("/v1/customers/we%20b:1/churn", CRM_KEY, "bad_customer_key"),
        ("/v1/customers/web:1/recommendations?k=0", STOREFRONT_KEY, "bad_parameter"),
        ("/v1/customers/web:1/recommendations?k=99999999999999999999", STOREFRONT_KEY, "bad_parameter"),
        ("/v1/customers/web:1/recommendations?k=-1", STOREFRONT_KEY, "bad_parameter"),
        ("/v1/customers/web:1/recommendations?k=abc", STOREFRONT_KEY, "bad_parameter"),
        ("/v1/customers/web:1/recommendations?category=toys", STOREFRONT_KEY, "unknown_category"),
        ("/v1/customers/%FF%FE/churn", CRM_KEY, "bad_customer_key"),
        ("/v1/at-risk?min_probability=NaN", CRM_KEY, "bad_parameter"),
        ("/v1/at-risk?format=xml", CRM_KEY, "bad_parameter"),
    ];
    for (path, key, code) in cases {
        assert_error(app.get(path, Some(key)).await, StatusCode::BAD_REQUEST, code).await;
    }
    let long_key = format!("/v1/customers/web:{}/churn", "9".repeat(600));
    assert_error(app.get(&long_key, Some(CRM_KEY)).await, StatusCode::BAD_REQUEST, "bad_customer_key").await;
    let many: Vec<String> = (0..250).map(|j| format!("SKU{j:06}")).collect();
    let response = app.post_json("/v1/recommendations", Some(STOREFRONT_KEY), &json!({ "items": many })).await;
    assert_error(response, StatusCode::BAD_REQUEST, "bad_parameter").await;
}

#[tokio::test]
async fn unknown_customers_items_and_routes_are_404() {
    let app = spawn_app().await;
    assert_error(app.churn("web:99999999").await, StatusCode::NOT_FOUND, "unknown_customer").await;
    assert_error(app.churn("C00000000000000").await, StatusCode::NOT_FOUND, "unknown_customer").await;
    assert_error(app.get("/v1/nothing-here", Some(CRM_KEY)).await, StatusCode::NOT_FOUND, "not_found").await;
    let wrong_method = app.client.delete(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_error(wrong_method, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn bodies_that_are_too_large_malformed_or_not_json_are_refused() {
    let app = spawn_app().await;
    let huge = json!({ "items": ["x".repeat(10_000)] });
    let response = app.post_json("/v1/recommendations", Some(STOREFRONT_KEY), &huge).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    let url = format!("{}/v1/recommendations", app.address);
    let malformed = app
        .client
        .post(&url)
        .bearer_auth(STOREFRONT_KEY)
        .header("Content-Type", "application/json")
        .body("{\"items\": [1, 2")
        .send()
        .await
        .unwrap();
    assert_error(malformed, StatusCode::BAD_REQUEST, "bad_parameter").await;
    let unknown_field = app.post_json("/v1/recommendations", Some(STOREFRONT_KEY), &json!({ "itemz": [] })).await;
    assert_error(unknown_field, StatusCode::BAD_REQUEST, "bad_parameter").await;
    let text = app.client.post(&url).bearer_auth(STOREFRONT_KEY).body("items=1").send().await.unwrap();
    assert_error(text, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;

    let reload = app
        .client
        .post(format!("{}/v1/admin/reload", app.address))
        .bearer_auth(crate::helpers::ADMIN_KEY)
        .body(vec![b' '; 10_000])
        .send()
        .await
        .unwrap();
    assert_error(reload, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}
