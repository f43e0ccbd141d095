//! The crabllm gateway's router, twice: as the `crabllm` 0.0.25 binary
//! serves it ([`stock`]), and with provider-retry's [`Retrying`] around
//! every deployment ([`retrying`]), each from a crabllm
//! [`GatewayConfig`].
//!
//! # How retries and fallback compose
//!
//! The router tries a model's deployments in order (the one its weights
//! pick, then the rest by weight) and falls back to the next: after a
//! transient failure for chat and unary Anthropic messages, after any
//! failure for embeddings and streamed Anthropic messages. Within a
//! deployment, the stock router retries only embeddings and streamed
//! Anthropic messages (its own loop: `max_retries`, 100 ms doubling with
//! jitter, `retry_deadline`); chat and unary Anthropic messages get one
//! attempt per deployment, although `max_retries` is documented as "max
//! retries on transient errors before fallback"; streamed chat gets one
//! attempt in all, at the first OpenAI-compatible deployment.
//!
//! [`retrying`] wraps each deployment's provider in
//! [`Retrying::from_config`] of that deployment's own `ProviderConfig`
//! (`max_retries`, `timeout` per attempt, `retry_deadline`), and turns the
//! router's own loop and timeout off for it (`max_retries = 0`, `timeout =
//! 0`), so that each deployment retries exactly once over, by one policy,
//! on every endpoint:
//! - attempts per call: at most the sum over the deployments tried of
//!   `1 + max_retries`;
//! - the deadline is per deployment: no wait inside a deployment ends past
//!   its `retry_deadline` from its first attempt; a fallback starts the
//!   next deployment's at once;
//! - each attempt is bounded by its deployment's `timeout` (for streams:
//!   the open, then the first chunk and each later gap by the wrapper's
//!   stream bounds);
//! - a streamed chat request's body is forwarded as it arrives, so it
//!   cannot be sent twice: one attempt, bounded, on the first OpenAI-
//!   compatible deployment (the router's choice, unchanged).
//!
//! # Examples
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = crabllm_core::GatewayConfig::from_file("crabllm.toml".as_ref())?;
//! let app = provider_retry_gateway::retrying(&config)?;
//! let listener = tokio::net::TcpListener::bind(&config.listen).await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

use arc_swap::ArcSwap;
use axum::Router;
use crabllm_core::{Error, GatewayConfig, Provider};
use crabllm_provider::{Deployment, ProviderRegistry, RemoteProvider, validate_provider};
use crabllm_proxy::AppState;
use crabllm_proxy::storage::MemoryStorage;
use provider_retry::Retrying;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The stock gateway: the router `crabllm serve` builds from `config`,
/// over the deployments its registry makes (in-memory storage, no
/// extensions, `config`'s keys).
///
/// # Errors
///
/// A provider `config` names that crabllm refuses (no models, no key).
pub fn stock(config: &GatewayConfig) -> Result<Router, Error> {
    let registry = ProviderRegistry::from_config(config, |provider| provider)?;
    Ok(router(config, registry))
}

/// The gateway with provider-retry: the same router, each deployment's
/// provider a [`Retrying`] built from its own `ProviderConfig`, and the
/// router's own retry loop and timeout off for it (see the crate's
/// documentation for how that composes with fallback).
///
/// # Errors
///
/// A provider `config` names that crabllm refuses (no models, no key).
pub fn retrying(config: &GatewayConfig) -> Result<Router, Error> {
    Ok(router(config, retrying_registry(config)?))
}

/// The deployments of [`retrying`], in the stock registry's order.
///
/// # Errors
///
/// A provider `config` names that crabllm refuses (no models, no key).
pub fn retrying_registry(
    config: &GatewayConfig,
) -> Result<ProviderRegistry<Retrying<RemoteProvider>>, Error> {
    let mut providers: Vec<_> = config.providers.iter().collect();
    for (name, provider) in &providers {
        validate_provider(name, provider)?;
    }
    // The stock registry's order: by name, so fallback order is the same.
    providers.sort_by_key(|(name, _)| name.as_str());
    let client = crabllm_provider::make_client();
    let mut registry =
        ProviderRegistry::new(HashMap::new(), config.aliases.clone(), HashMap::new());
    for (name, provider) in providers {
        let wrapped = Retrying::from_config(
            RemoteProvider::new(name, provider, client.clone()),
            provider,
        );
        for model in &provider.models {
            registry.insert_deployment(
                model.clone(),
                Deployment {
                    name: name.clone(),
                    provider: wrapped.clone(),
                    weight: provider.weight.unwrap_or(1),
                    // The wrapper retries and bounds each attempt; the
                    // router's own loop and timeout would do both again
                    // around it (a timeout there cuts the wrapper's retries).
                    max_retries: 0,
                    timeout: Duration::ZERO,
                    retry_deadline: Duration::ZERO,
                },
            );
        }
    }
    Ok(registry)
}

/// `crabllm serve`'s router (auth, `/health`, every `/v1` route) over
/// `registry`, with in-memory storage, no extensions and `config`'s keys.
pub fn router<P: Provider + 'static>(
    config: &GatewayConfig,
    registry: ProviderRegistry<P>,
) -> Router {
    let keys = config
        .keys
        .iter()
        .map(|k| (k.key.clone(), k.clone()))
        .collect();
    let state = AppState {
        registry: Arc::new(ArcSwap::from_pointee(registry)),
        config: config.clone(),
        extensions: Arc::new(Vec::new()),
        storage: Arc::new(MemoryStorage::new()),
        key_map: Arc::new(RwLock::new(keys)),
        usage_events: None,
    };
    crabllm_proxy::router(state, Vec::new())
}
