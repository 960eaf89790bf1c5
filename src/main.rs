//! The `cloudstop` binary: everything happens in [`cloudstop::app::main`].

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(cloudstop::app::main())
}
