//! Reloads: atomic swaps under load, and bad bundles refused while the old model keeps serving.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use reqwest::StatusCode;
use tagcenter::inference::synthetic::SyntheticParams;

use crate::helpers::{CRM_KEY, assert_error, spawn_app, write_bundle};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reload_while_requests_are_in_flight_fails_no_request() {
    let app = Arc::new(spawn_app().await);
    let v2 = app.dir.path().join("v2.tcb");
    let v3 = app.dir.path().join("v3.tcb");
    write_bundle(&v2, "v2");
    write_bundle(&v3, "v3");

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..8 {
        let (app, stop, done) = (Arc::clone(&app), Arc::clone(&stop), Arc::clone(&done));
        workers.push(tokio::spawn(async move {
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("web:{}", i % 1_500);
                let response = if i % 2 == 0 { app.churn(&key).await } else { app.recommendations(&key, "?k=5").await };
                assert_eq!(response.status(), StatusCode::OK, "{key}");
                let body: serde_json::Value = response.json().await.expect("complete JSON body");
                assert!(["v1", "v2", "v3"].contains(&body["model_version"].as_str().unwrap()));
                done.fetch_add(1, Ordering::Relaxed);
                i += 8;
            }
        }));
    }
    for path in [&v2, &v3, &v2, &v3] {
        let response = app.reload(Some(path)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("no request failed");
    }
    assert!(done.load(Ordering::Relaxed) > 50, "requests ran during the reloads");
    assert_eq!(app.model_version().await, "v3");
}

#[tokio::test]
async fn a_corrupt_or_inconsistent_bundle_is_rejected_and_the_old_model_keeps_serving() {
    let app = spawn_app().await;
    let dir = app.dir.path();

    let garbage = dir.join("garbage.tcb");
    std::fs::write(&garbage, b"definitely not a bundle").unwrap();
    let truncated = dir.join("truncated.tcb");
    let good = std::fs::read(&app.bundle_path).unwrap();
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    let flipped = dir.join("flipped.tcb");
    let mut bytes = good.clone();
    let at = bytes.len() - 100;
    bytes[at] ^= 0xff;
    std::fs::write(&flipped, &bytes).unwrap();
    let inconsistent = dir.join("inconsistent.tcb");
    let mut bundle = SyntheticParams::new(50, 10).model_version("bad").build();
    bundle.contents.recommendations.items[0] = 1_000_000;
    bundle.write(&inconsistent).unwrap();

    for (path, needle) in [
        (&garbage, "not a tagcenter model bundle"),
        (&truncated, "truncated"),
        (&flipped, "checksum"),
        (&inconsistent, "recommendations refers to index 1000000"),
        (&dir.join("missing.tcb"), "missing.tcb"),
    ] {
        let response = app.reload(Some(path)).await;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["code"], "bad_bundle");
        assert!(body["error"]["message"].as_str().unwrap().contains(needle), "{needle}: {body}");
        assert_eq!(app.model_version().await, "v1");
        assert_eq!(app.churn("web:1").await.status(), StatusCode::OK);
    }
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("tagcenter_model_reloads_total{result=\"error\"} 5"));
    let bad_body =
        app.post_json("/v1/admin/reload", Some(crate::helpers::ADMIN_KEY), &serde_json::json!({"paht": 1})).await;
    assert_error(bad_body, StatusCode::BAD_REQUEST, "bad_parameter").await;
    let _ = CRM_KEY;
}
