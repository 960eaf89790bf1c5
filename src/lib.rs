//! cloudstop: stop jobs, stop servers and delete clusters on several clouds with one
//! grammar, one credential story and one JSON result shape.
//!
//! The binary (`src/main.rs`) only calls [`app::main`]; the library exists so that
//! benchmarks and fuzz targets can reach the signers and parsers.

pub mod app;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod envelope;
pub mod error;
pub mod plan;
pub mod providers;
pub mod render;
pub mod transport;
