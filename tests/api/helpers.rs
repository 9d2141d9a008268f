//! Test helpers: start the real server on a random port with a synthetic bundle and three API keys, and
//! call it over HTTP. Logs only when `TEST_LOG` is set.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use actix_web::dev::ServerHandle;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tagcenter::inference::synthetic::SyntheticParams;
use tagcenter::server::Application;
use tagcenter::server::auth::hash_key;
use tagcenter::server::config::ServerConfig;

/// Key with the storefront scope.
pub const STOREFRONT_KEY: &str = "sf-0123456789abcdef";
/// Key with the crm scope.
pub const CRM_KEY: &str = "crm-0123456789abcdef";
/// Key with the admin scope.
pub const ADMIN_KEY: &str = "admin-0123456789abcdef";
/// Customers and items in the test bundle.
pub const CUSTOMERS: usize = 2_000;
/// Items in the test bundle.
pub const ITEMS: usize = 300;

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        tracing_subscriber::fmt().with_env_filter("debug").with_test_writer().init();
    }
});

/// A running server.
pub struct TestApp {
    /// `http://127.0.0.1:{port}`.
    pub address: String,
    /// Client.
    pub client: reqwest::Client,
    /// Holds the bundle files.
    pub dir: tempfile::TempDir,
    /// The bundle configured at start.
    pub bundle_path: PathBuf,
    handle: ServerHandle,
}

/// Writes a synthetic bundle with the given version.
pub fn write_bundle(path: &Path, version: &str) {
    SyntheticParams::new(CUSTOMERS, ITEMS).model_version(version).build().write(path).expect("write bundle");
}

/// Starts a server with a loaded bundle (version `v1`).
pub async fn spawn_app() -> TestApp {
    spawn(true).await
}

/// Starts a server whose configured bundle does not exist yet.
pub async fn spawn_app_without_bundle() -> TestApp {
    spawn(false).await
}

async fn spawn(with_bundle: bool) -> TestApp {
    LazyLock::force(&TRACING);
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle_path = dir.path().join("latest.tcb");
    if with_bundle {
        write_bundle(&bundle_path, "v1");
    }
    let keys = format!(
        "web:storefront:{};crm:crm:{};ops:admin:{}",
        hash_key(STOREFRONT_KEY),
        hash_key(CRM_KEY),
        hash_key(ADMIN_KEY)
    );
    let env = [
        ("TAGCENTER_BIND", "127.0.0.1:0".to_owned()),
        ("TAGCENTER_BUNDLE", bundle_path.display().to_string()),
        ("TAGCENTER_WORKERS", "2".to_owned()),
        ("TAGCENTER_SHUTDOWN_TIMEOUT_SECS", "1".to_owned()),
        ("TAGCENTER_LIMITS__MAX_BODY_BYTES", "4096".to_owned()),
        ("TAGCENTER_API_KEYS", keys),
    ];
    let config = ServerConfig::load(None, env.map(|(k, v)| (k.to_owned(), v))).expect("config");
    let app = Application::build(config).await.expect("build");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp { address, client: reqwest::Client::new(), dir, bundle_path, handle }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl TestApp {
    /// GET with an optional key.
    pub async fn get(&self, path: &str, key: Option<&str>) -> Response {
        let mut request = self.client.get(format!("{}{path}", self.address));
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        request.send().await.expect("request")
    }

    /// GET, expecting `status`, returning the JSON body.
    pub async fn get_json(&self, path: &str, key: Option<&str>, status: StatusCode) -> Value {
        let response = self.get(path, key).await;
        assert_eq!(response.status(), status, "GET {path}");
        response.json().await.expect("JSON body")
    }

    /// POST a JSON body with an optional key.
    pub async fn post_json(&self, path: &str, key: Option<&str>, body: &Value) -> Response {
        let mut request = self.client.post(format!("{}{path}", self.address)).json(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.expect("request")
    }

    /// `GET /v1/customers/{key}/churn` with the crm key.
    pub async fn churn(&self, key: &str) -> Response {
        self.get(&format!("/v1/customers/{key}/churn"), Some(CRM_KEY)).await
    }

    /// `GET /v1/customers/{key}/recommendations{query}` with the storefront key.
    pub async fn recommendations(&self, key: &str, query: &str) -> Response {
        self.get(&format!("/v1/customers/{key}/recommendations{query}"), Some(STOREFRONT_KEY)).await
    }

    /// `POST /v1/admin/reload` with the admin key.
    pub async fn reload(&self, path: Option<&Path>) -> Response {
        let body = match path {
            Some(p) => serde_json::json!({ "path": p }),
            None => serde_json::json!({}),
        };
        self.post_json("/v1/admin/reload", Some(ADMIN_KEY), &body).await
    }

    /// The active model version per `/v1/models`.
    pub async fn model_version(&self) -> String {
        let body = self.get_json("/v1/models", Some(CRM_KEY), StatusCode::OK).await;
        body["model_version"].as_str().expect("version").to_owned()
    }
}

/// Asserts an error response: status, JSON body with `code` and a message.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) {
    let url = response.url().to_string();
    assert_eq!(response.status(), status, "{url}");
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(body["error"]["code"], code, "{url}: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}
