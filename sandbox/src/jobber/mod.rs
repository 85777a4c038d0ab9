//! The Jobber stand-in: GraphQL at `/api/graphql`, OAuth at `/api/oauth/*`, and webhooks.

pub mod cost;
pub mod graphql;
pub mod ids;
pub mod limits;
pub mod oauth;
pub mod schema;
pub mod web;
pub mod webhooks;

use std::sync::Arc;

use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::Router;

use crate::config::Config;
use crate::context::Shared;

/// Jobber's per-process machinery, built once at start.
pub struct Runtime {
    pub schema: schema::JobberSchema,
    pub cost_model: cost::CostModel,
    pub limits: limits::Limits,
    pub webhooks: webhooks::Webhooks,
}

impl Runtime {
    pub fn new(config: &Config) -> Self {
        let schema = schema::build();
        // The cost model reads field types from the very schema that is served.
        let cost_model = cost::CostModel::from_sdl(&schema.sdl());
        Self {
            schema,
            cost_model,
            limits: limits::Limits::new(&config.limits),
            webhooks: webhooks::Webhooks::default(),
        }
    }
}

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Shared>: FromRef<S>,
    Arc<crate::jobber::Runtime>: FromRef<S>,
{
    Router::new()
        .route("/api/graphql", post(graphql::handle))
        .route("/api/oauth/authorize", get(oauth::authorize).post(oauth::authorize_approved))
        .route("/api/oauth/token", post(oauth::token))
}
