//! Per-customer routes.

use reqwest::StatusCode;
use tagcenter::inference::synthetic::SyntheticParams;

use crate::helpers::{CRM_KEY, spawn_app};

#[tokio::test]
async fn a_profile_is_found_by_source_key_and_by_unified_id() {
    let app = spawn_app().await;
    let profile = app.get_json("/v1/customers/web:6", Some(CRM_KEY), StatusCode::OK).await;
    let id = profile["customer_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 15);
    let keys: Vec<&str> = profile["source_keys"].as_array().unwrap().iter().filter_map(|k| k.as_str()).collect();
    assert!(keys.contains(&"web:6") && keys.contains(&"card:8800006") && keys.contains(&"email:user6@example.com"));
    assert_eq!(profile["tags"]["member_tier"], "bronze");
    assert_eq!(profile["tags"]["vip"], false);
    assert!(profile["tags"]["first_purchase"].as_str().unwrap().starts_with("20"));
    assert!(profile["churn"]["churn_probability"].is_number());
    assert!(profile["promotion_timing"]["urgency"].is_string());
    assert_eq!(profile["recommendations"]["items"].as_array().unwrap().len(), 10);
    assert_eq!(profile["model_version"], "v1");

    let by_id = app.get_json(&format!("/v1/customers/{id}"), Some(CRM_KEY), StatusCode::OK).await;
    assert_eq!(by_id, profile);
    let by_card = app.get_json("/v1/customers/card:8800006", Some(CRM_KEY), StatusCode::OK).await;
    assert_eq!(by_card["customer_id"], id.as_str());
}

#[tokio::test]
async fn churn_has_probability_band_reasons_and_p_alive() {
    let app = spawn_app().await;
    let churn: serde_json::Value = app.churn("web:1").await.json().await.unwrap();
    let p = churn["churn_probability"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p));
    let band = churn["risk_band"].as_str().unwrap();
    let expected = if p >= 0.6 {
        "high"
    } else if p >= 0.3 {
        "medium"
    } else {
        "low"
    };
    assert_eq!(band, expected);
    let reasons = churn["reasons"].as_array().unwrap();
    assert!(!reasons.is_empty() && reasons.len() <= 3);
    assert!(reasons[0]["tag"].is_string() && reasons[0]["contribution"].is_number());
    assert!(churn["p_alive"].is_number());
    assert_eq!(churn["model_version"], "v1");

    let unscored: serde_json::Value = app.churn(&SyntheticParams::unscored_key(0)).await.json().await.unwrap();
    assert!(unscored["churn_probability"].is_null());
    assert!(unscored["risk_band"].is_null());
}

#[tokio::test]
async fn promotion_timing_has_dates_window_and_expectations() {
    let app = spawn_app().await;
    let t = app.get_json("/v1/customers/web:1/promotion-timing", Some(CRM_KEY), StatusCode::OK).await;
    for field in ["next_purchase_date", "window_start", "window_end"] {
        assert_eq!(t[field].as_str().unwrap().len(), 10, "{field}: {t}");
    }
    assert!(t["window_start"].as_str() <= t["window_end"].as_str());
    assert!(["win_back", "remind", "wait", "lapsed", "unknown"].contains(&t["urgency"].as_str().unwrap()));
    for field in ["p_alive", "expected_purchases_30d", "expected_purchases_90d"] {
        assert!(t[field].is_number(), "{field}");
    }
    // Customer 0 expects no purchase (multiple of 23): no dates.
    let none = app.get_json("/v1/customers/web:0/promotion-timing", Some(CRM_KEY), StatusCode::OK).await;
    assert!(none["next_purchase_date"].is_null());
    assert_eq!(none["urgency"], "unknown");
}

#[tokio::test]
async fn recommendations_are_personal_filtered_and_capped() {
    let app = spawn_app().await;
    let recs: serde_json::Value = app.recommendations("web:1", "?k=3").await.json().await.unwrap();
    let items = recs["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(recs["fallback"].is_null());
    for item in items {
        assert!(item["item"].as_str().unwrap().starts_with("SKU"));
        assert!(item["score"].is_number());
        assert!(
            ["bought-before-and-due", "similar-to", "popular-in-segment", "popular"]
                .contains(&item["reason"].as_str().unwrap())
        );
    }
    let first = items[0]["item"].as_str().unwrap().to_owned();
    let excluded: serde_json::Value =
        app.recommendations("web:1", &format!("?k=3&exclude={first},SKU999999")).await.json().await.unwrap();
    assert!(excluded["items"].as_array().unwrap().iter().all(|i| i["item"] != first.as_str()));

    let snacks: serde_json::Value = app.recommendations("web:1", "?k=5&category=snacks").await.json().await.unwrap();
    let snacks = snacks["items"].as_array().unwrap();
    assert_eq!(snacks.len(), 5);
    assert!(snacks.iter().all(|i| i["category"] == "snacks"));

    let capped: serde_json::Value = app.recommendations("web:1", "?k=100000").await.json().await.unwrap();
    assert_eq!(capped["items"].as_array().unwrap().len(), 100, "k is capped at max_k");
}

#[tokio::test]
async fn a_customer_the_model_has_never_seen_gets_the_marked_popular_fallback() {
    let app = spawn_app().await;
    let recs = app.recommendations("web:99999999", "?k=4").await;
    assert_eq!(recs.status(), StatusCode::OK);
    let recs: serde_json::Value = recs.json().await.unwrap();
    assert_eq!(recs["fallback"], "popular");
    assert!(recs["customer_id"].is_null());
    assert_eq!(recs["items"].as_array().unwrap().len(), 4);

    let cold: serde_json::Value = app.recommendations(&SyntheticParams::cold_key(0), "").await.json().await.unwrap();
    assert_eq!(cold["fallback"], "popular-in-segment");
}
