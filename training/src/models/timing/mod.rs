//! Promotion timing: purchase cycles, BG/NBD, next purchase date, send window and urgency.
