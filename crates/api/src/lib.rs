//! The Tenantry HTTP server.
//!
//! `server` accepts connections (timeouts, connection cap) and hands requests to the router.
//! A request flows: `http` (request id, problem rendering, strict framing) → `telemetry`
//! (request span) → `routes` → `auth` (admin guard) or `resolution` (JWT + selectors →
//! `TenantContext`) → a thin handler that parses (`extract`), calls the tenancy layer, and maps
//! the result.

mod activity;
pub mod app;
pub mod auth;
pub mod config;
pub mod extract;
mod gauges;
pub mod http;
pub mod openapi;
pub mod platform;
pub mod prometheus;
pub mod readiness;
pub mod resolution;
mod routes;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod tenant_data;

pub mod transfer;
pub mod views;

pub use app::Application;
pub use config::Config;
