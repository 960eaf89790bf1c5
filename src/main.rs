//! cloudstop: stop jobs, stop servers and delete clusters on several clouds with one
//! grammar and one JSON result shape. `main` only hands over to [`app::main`].

mod app;
mod cli;
mod config;
mod envelope;
mod error;
mod plan;
mod providers;
mod render;
mod transport;

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(app::main())
}
