//! Timing metrics: error in days of the predicted next purchase.
