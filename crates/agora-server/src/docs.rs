//! The OpenAPI document (kept by hand beside the handlers) and an offline
//! HTML page that renders it: no CDN, no build step.

pub const OPENAPI: &str = include_str!("openapi.json");
pub const HTML: &str = include_str!("docs.html");
