//! What every handler and extractor shares: the use cases' context, plus what only the
//! HTTP layer needs (connection slots and the caps on event streams).

use crate::services::Context;

#[derive(Clone)]
pub struct AppState {
    pub ctx: Context,
    /// The connection slots (caps per client address, deadlines under pressure).
    pub connections: crate::connections::Gate,
    /// The caps on event streams.
    pub streams: crate::web::stream_gate::StreamGate,
}

impl std::ops::Deref for AppState {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.ctx
    }
}
