//! End-to-end tests of the HTTP service: each starts the real server on a random port with a synthetic
//! bundle and calls it over HTTP.

mod at_risk;
mod auth;
mod customers;
mod errors;
mod health;
mod helpers;
mod items;
mod properties;
mod reload;
