//! A crabllm gateway whose deployments retry: every endpoint, by each
//! deployment's own `max_retries`, `timeout` and `retry_deadline`.
//!
//! ```text
//! cargo run -p provider-retry-gateway --example crabllm_gateway -- crabllm.toml
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
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: crabllm_gateway CONFIG.toml");
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
    let app = match provider_retry_gateway::retrying(&config) {
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
    eprintln!(
        "crabllm gateway with provider-retry listening on {}",
        config.listen
    );
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
