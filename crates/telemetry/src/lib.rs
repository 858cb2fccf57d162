//! What the processor and the verifier share to be observed:
//!
//! - [`prom`]: writing metrics in the Prometheus text exposition format (pure).
//! - [`http`]: a small HTTP/1.1 server for `GET` endpoints such as `/metrics` and `/status`.
#![forbid(unsafe_code)]

pub mod http;
pub mod prom;
