//! The router that serves all four stand-ins on one port, and its state: the sandbox-wide
//! [`Shared`] and Jobber's [`jobber::Runtime`], each extractable on its own (`State<Arc<Shared>>`,
//! `State<Arc<jobber::Runtime>>`), so that no stand-in depends on the router.

use std::sync::Arc;

use axum::extract::{FromRef, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;

use crate::context::Shared;
use crate::jobber;

/// The router's state.
#[derive(Clone)]
pub struct AppState {
    pub shared: Arc<Shared>,
    pub jobber: Arc<jobber::Runtime>,
}

impl FromRef<AppState> for Arc<Shared> {
    fn from_ref(state: &AppState) -> Self {
        state.shared.clone()
    }
}

impl FromRef<AppState> for Arc<jobber::Runtime> {
    fn from_ref(state: &AppState) -> Self {
        state.jobber.clone()
    }
}

/// All routes. Faults and counters wrap everything except `/_admin` and the `jobberWebUri` pages.
pub fn router(state: AppState) -> Router {
    let services = Router::new()
        .merge(jobber::routes())
        .merge(crate::saberis::routes())
        .merge(crate::sheets::routes())
        .layer(axum::middleware::from_fn_with_state(state.shared.clone(), faults));
    Router::new()
        .merge(services)
        .merge(jobber::web::routes())
        .nest("/_admin", crate::admin::routes())
        .with_state(state)
}

/// The fault middleware over the shared faults and counters.
async fn faults(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    crate::faults::apply(&shared.faults, &shared.counters, shared.shutdown.clone(), request, next).await
}
