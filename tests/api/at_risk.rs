//! At-risk lists: ranking, cursors, filters, CSV streaming.

use reqwest::StatusCode;

use crate::helpers::{CRM_KEY, assert_error, spawn_app};

#[tokio::test]
async fn pages_are_ranked_by_value_at_risk_and_cursors_walk_the_whole_list() {
    let app = spawn_app().await;
    let mut seen = Vec::new();
    let mut values = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get_json(
                &format!("/v1/at-risk?min_probability=0.5&limit=250&cursor={cursor}"),
                Some(CRM_KEY),
                StatusCode::OK,
            )
            .await;
        for c in page["customers"].as_array().unwrap() {
            assert!(c["churn_probability"].as_f64().unwrap() >= 0.5);
            seen.push(c["customer_id"].as_str().unwrap().to_owned());
            values.push(c["value_at_risk"].as_f64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert!(seen.len() > 500, "{}", seen.len());
    assert!(values.windows(2).all(|w| w[0] >= w[1]));
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no customer twice");
}

#[tokio::test]
async fn a_tag_filter_and_bad_parameters_are_handled() {
    let app = spawn_app().await;
    let gold = app.get_json("/v1/at-risk?tag=member_tier:gold&limit=50", Some(CRM_KEY), StatusCode::OK).await;
    assert_eq!(gold["customers"].as_array().unwrap().len(), 50);
    assert_error(app.get("/v1/at-risk?tag=nope", Some(CRM_KEY)).await, StatusCode::BAD_REQUEST, "unknown_tag").await;
    assert_error(
        app.get("/v1/at-risk?min_probability=2", Some(CRM_KEY)).await,
        StatusCode::BAD_REQUEST,
        "bad_parameter",
    )
    .await;
    assert_error(app.get("/v1/at-risk?cursor=garbage", Some(CRM_KEY)).await, StatusCode::BAD_REQUEST, "bad_cursor")
        .await;
    assert_error(
        app.get("/v1/at-risk?cursor=0123456789abcdef", Some(CRM_KEY)).await,
        StatusCode::BAD_REQUEST,
        "stale_cursor",
    )
    .await;
    let capped = app.get_json("/v1/at-risk?limit=999999", Some(CRM_KEY), StatusCode::OK).await;
    assert_eq!(capped["customers"].as_array().unwrap().len(), 1000, "limit is capped at max_limit");
}

#[tokio::test]
async fn the_whole_list_streams_as_csv() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/v1/at-risk?min_probability=0.2", app.address))
        .header("X-API-Key", CRM_KEY)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = response.text().await.unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("customer_id,churn_probability,value_at_risk"));
    let rows: Vec<&str> = lines.collect();
    let json = app.get_json("/v1/at-risk?min_probability=0.2&limit=1000", Some(CRM_KEY), StatusCode::OK).await;
    let first_page = json["customers"].as_array().unwrap();
    assert!(rows.len() > first_page.len(), "CSV holds the whole list, not one page");
    assert!(rows[0].starts_with(first_page[0]["customer_id"].as_str().unwrap()));

    let by_param = app.get("/v1/at-risk?format=csv&min_probability=0.2", Some(CRM_KEY)).await.text().await.unwrap();
    assert_eq!(by_param.lines().count(), rows.len() + 1);
}
