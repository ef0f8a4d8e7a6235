//! TEMPORARY stub until the listeners land.
use std::net::SocketAddr;
use std::sync::Arc;
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("bind {0}")]
    Bind(String),
}
pub struct Listeners {
    bound: Vec<(&'static str, SocketAddr)>,
}
impl Listeners {
    pub fn bound(&self) -> Vec<(&'static str, SocketAddr)> {
        self.bound.clone()
    }
    pub async fn stop(self) {}
}
pub async fn start(
    _s: &crate::config::Settings,
    _i: Arc<crate::ingest::Ingest>,
) -> Result<Listeners, ListenError> {
    Ok(Listeners { bound: vec![] })
}
