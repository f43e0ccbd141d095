//! A crabllm gateway whose deployments retry: every endpoint, by each
//! deployment's own `max_retries`, `timeout` and `retry_deadline`; with
//! `--stock`, the router as the `crabllm` 0.0.25 binary serves it, to judge
//! the two side by side.
//!
//! ```text
//! cargo run -p provider-retry-gateway --example crabllm_gateway -- crabllm.toml
//! cargo run -p provider-retry-gateway --example crabllm_gateway -- --stock crabllm.toml
//! ```
//!
//! The file is crabllm's own configuration (`listen`, `[providers.*]`,
//! `[[keys]]`, `aliases`); `${VAR}` in it is read from the environment.
//! To run your own: copy this file and `retrying_registry` from
//! `sim/gateway/src/lib.rs` (about sixty lines) into a binary crate that
//! depends on `provider-retry`, `crabllm-proxy`, `crabllm-provider` and
//! `axum`.

use crabllm_core::GatewayConfig;
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    let stock = args.first().is_some_and(|a| a == "--stock");
    if stock {
        args.remove(0);
    }
    let [path] = args.as_slice() else {
        eprintln!("usage: crabllm_gateway [--stock] CONFIG.toml");
        return ExitCode::from(2);
    };
    let path = std::path::PathBuf::from(path);
    let config = match GatewayConfig::from_file(&path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let (app, what) = match stock {
        true => (
            provider_retry_gateway::stock(&config),
            "stock crabllm gateway",
        ),
        false => (
            provider_retry_gateway::retrying(&config),
            "crabllm gateway with provider-retry",
        ),
    };
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&config.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("{}: cannot listen: {e}", config.listen);
            return ExitCode::from(1);
        }
    };
    eprintln!("{what} listening on {}", config.listen);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
