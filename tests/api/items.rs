//! Similar items and basket recommendations.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{STOREFRONT_KEY, assert_error, spawn_app};

#[tokio::test]
async fn similar_items_exclude_the_item_itself() {
    let app = spawn_app().await;
    let body = app.get_json("/v1/items/SKU000007/similar?k=5", Some(STOREFRONT_KEY), StatusCode::OK).await;
    assert_eq!(body["item"], "SKU000007");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(|i| i["item"] != "SKU000007" && i["reason"] == "similar-to"));
    assert!(items.windows(2).all(|w| w[0]["score"].as_f64() >= w[1]["score"].as_f64()));
    assert_error(
        app.get("/v1/items/SKU999999/similar", Some(STOREFRONT_KEY)).await,
        StatusCode::NOT_FOUND,
        "unknown_item",
    )
    .await;
}

#[tokio::test]
async fn a_basket_gets_neighbour_based_recommendations_without_its_own_items() {
    let app = spawn_app().await;
    let body = json!({ "items": ["SKU000001", "SKU000002", "NOPE"], "k": 6 });
    let response = app.post_json("/v1/recommendations", Some(STOREFRONT_KEY), &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let recs: serde_json::Value = response.json().await.unwrap();
    let items = recs["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert!(items.iter().all(|i| i["item"] != "SKU000001" && i["item"] != "SKU000002"));
    assert_eq!(items[0]["reason"], "similar-to");
    assert!(recs["fallback"].is_null());
    assert_eq!(recs["unknown_items"], json!(["NOPE"]));
    assert!(recs["customer_id"].is_null());

    let with_customer = json!({ "items": ["SKU000001"], "customer": "web:1" });
    let recs: serde_json::Value =
        app.post_json("/v1/recommendations", Some(STOREFRONT_KEY), &with_customer).await.json().await.unwrap();
    assert!(recs["customer_id"].is_string());

    let empty: serde_json::Value =
        app.post_json("/v1/recommendations", Some(STOREFRONT_KEY), &json!({})).await.json().await.unwrap();
    assert_eq!(empty["fallback"], "popular");
}
