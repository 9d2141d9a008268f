//! Shared server state: the active model behind an atomic swap (requests take a cheap snapshot and never
//! wait for a reload), the API keys, the configuration and the metrics.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwapOption;

use super::auth::ApiKeys;
use super::config::ServerConfig;
use super::error::ApiError;
use super::metrics::Metrics;
use super::render::ItemFragments;
use crate::inference::{Model, ModelError};

/// A model as served: the model and the JSON fragments rendered once for it.
#[derive(Debug)]
pub struct ServedModel {
    /// The model.
    pub model: Arc<Model>,
    /// Its items' pre-rendered JSON, for the recommendation answers.
    pub fragments: ItemFragments,
}

impl ServedModel {
    /// Renders the fragments of `model`.
    pub fn new(model: Model) -> Self {
        let fragments = ItemFragments::new(&model);
        Self { model: Arc::new(model), fragments }
    }
}

/// State shared by all workers.
#[derive(Debug)]
pub struct AppState {
    model: ArcSwapOption<ServedModel>,
    /// API keys.
    pub keys: ApiKeys,
    /// Validated configuration.
    pub config: ServerConfig,
    /// Request metrics.
    pub metrics: Metrics,
    reload_lock: tokio::sync::Mutex<()>,
}

/// What a successful reload swapped.
#[derive(Debug, Clone, PartialEq)]
pub struct ReloadOutcome {
    /// Version now serving.
    pub model_version: String,
    /// Version served before, if any.
    pub previous_version: Option<String>,
    /// Bundle file loaded.
    pub path: PathBuf,
    /// Load time, milliseconds.
    pub load_ms: f64,
}

impl AppState {
    /// State with no model yet.
    pub fn new(config: ServerConfig) -> Self {
        Self {
            model: ArcSwapOption::empty(),
            keys: ApiKeys::new(&config.keys),
            config,
            metrics: Metrics::new(),
            reload_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The active model, or 503 when none is loaded.
    pub fn model(&self) -> Result<Arc<Model>, ApiError> {
        self.model.load().as_ref().map(|served| served.model.clone()).ok_or(ApiError::NoModel)
    }

    /// The active model with its rendered fragments, or 503 when none is loaded.
    pub fn served(&self) -> Result<Arc<ServedModel>, ApiError> {
        self.model.load_full().ok_or(ApiError::NoModel)
    }

    /// Whether a model is loaded.
    pub fn is_ready(&self) -> bool {
        self.model.load().is_some()
    }

    /// Makes `model` the active one; returns the previous.
    pub fn install(&self, model: Model) -> Option<Arc<Model>> {
        self.install_served(ServedModel::new(model))
    }

    fn install_served(&self, served: ServedModel) -> Option<Arc<Model>> {
        self.metrics.record_model(served.model.version());
        self.model.swap(Some(Arc::new(served))).map(|previous| previous.model.clone())
    }

    /// Loads the bundle at `path` (or the configured one) on a blocking thread and swaps it in. One reload
    /// at a time; requests keep being served by the old model until the swap, and a bundle that fails to
    /// load or check leaves the old model in place.
    pub async fn reload(&self, path: Option<&Path>) -> Result<ReloadOutcome, ApiError> {
        let path = path
            .map(Path::to_owned)
            .or_else(|| self.config.bundle.clone())
            .ok_or_else(|| ApiError::BadParameter("no bundle configured: pass {\"path\": \"...\"}".to_owned()))?;
        let _one_at_a_time = self.reload_lock.lock().await;
        let load_path = path.clone();
        let loaded = tokio::task::spawn_blocking(move || Model::load(&load_path).map(ServedModel::new))
            .await
            .map_err(|e| ApiError::Internal(format!("bundle loader stopped: {e}")))?;
        let model = match loaded {
            Ok(model) => model,
            Err(err) => {
                self.metrics.record_reload(false);
                tracing::error!(path = %path.display(), error = %err, "reload rejected; previous model keeps serving");
                return Err(ApiError::BadBundle(err));
            }
        };
        let outcome_version = model.model.version().to_owned();
        let load_ms = model.model.load_time().as_secs_f64() * 1000.0;
        let previous = self.install_served(model);
        self.metrics.record_reload(true);
        tracing::info!(path = %path.display(), version = %outcome_version, load_ms, "model reloaded");
        Ok(ReloadOutcome {
            model_version: outcome_version,
            previous_version: previous.map(|m| m.version().to_owned()),
            path,
            load_ms,
        })
    }

    /// Loads the configured bundle at start-up: a missing file leaves the service unready (a later reload
    /// loads it); a file that exists but cannot be served is an error.
    pub fn load_initial(&self) -> Result<(), ModelError> {
        let Some(path) = &self.config.bundle else {
            tracing::warn!("no bundle configured; not ready until POST /v1/admin/reload");
            return Ok(());
        };
        if !path.exists() {
            tracing::warn!(path = %path.display(), "bundle not found; not ready until POST /v1/admin/reload");
            return Ok(());
        }
        let model = Model::load(path)?;
        tracing::info!(
            path = %path.display(),
            version = model.version(),
            customers = model.customer_count(),
            items = model.item_count(),
            load_ms = model.load_time().as_secs_f64() * 1000.0,
            "model loaded"
        );
        self.install(model);
        Ok(())
    }
}
