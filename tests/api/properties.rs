//! Property test: arbitrary path keys and query strings never cause a 5xx or a dropped connection.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::helpers::{CRM_KEY, STOREFRONT_KEY, spawn_app};

fn percent_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

fn query_text() -> impl Strategy<Value = String> {
    // Printable ASCII except `#`, plus some multi-byte characters; `&` and `=` shape the pairs.
    proptest::string::string_regex("[ -\"$-~é中]{0,60}").expect("regex")
}

#[test]
fn arbitrary_keys_and_query_strings_never_cause_a_server_error() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let app = runtime.block_on(spawn_app());
    let mut runner = TestRunner::new(Config { cases: 96, failure_persistence: None, ..Config::default() });
    let strategy = (proptest::collection::vec(any::<u8>(), 0..80), query_text(), any::<bool>(), 0usize..4);
    runner
        .run(&strategy, |(key, query, encode_all, route)| {
            let key = if encode_all {
                percent_encode(&key)
            } else {
                String::from_utf8_lossy(&key).replace(['/', '?', '#'], "")
            };
            let query: String = query.chars().map(|c| if c == ' ' { '+' } else { c }).collect();
            let (path, api_key) = match route {
                0 => (format!("/v1/customers/{key}/recommendations?{query}"), STOREFRONT_KEY),
                1 => (format!("/v1/customers/{key}/churn?{query}"), CRM_KEY),
                2 => (format!("/v1/items/{key}/similar?{query}"), STOREFRONT_KEY),
                _ => (format!("/v1/at-risk?{query}"), CRM_KEY),
            };
            let url = format!("{}{path}", app.address);
            let Ok(url) = reqwest::Url::parse(&url) else {
                return Ok(()); // not a URL any client could send
            };
            let (status, body) = runtime.block_on(async {
                let response = app.client.get(url).header("X-API-Key", api_key).send().await.expect("connection kept");
                let status = response.status();
                (status, response.text().await.expect("body"))
            });
            prop_assert!(!status.is_server_error(), "{path} -> {status}: {body}");
            if status.is_client_error() {
                let json: serde_json::Value = serde_json::from_str(&body).expect("JSON error body");
                prop_assert!(json["error"]["code"].is_string());
            }
            Ok(())
        })
        .expect("property holds");
}
