//! What the processor and the verifier share to be observed:
//!
//! - [`prom`]: writing metrics in the Prometheus text exposition format (pure).
//! - [`log`]: parsing `LOG_LEVEL`.
//! - [`http`]: a small HTTP/1.1 server for `GET` endpoints such as `/metrics` and `/status`.
//! - [`ready`]: the ready file, the bound addresses as JSON once a binary is ready.
//! - [`shutdown`]: SIGINT or SIGTERM, the one way both binaries are asked to stop.
#![forbid(unsafe_code)]

pub mod http;
pub mod log;
pub mod prom;
pub mod ready;
pub mod shutdown;

pub use log::parse_level;
