//! `GET /api/v1/system`: what this appliance is — version, uptime, its SNMP engine id (which
//! v3 senders of informs must be configured with), the store's size and the rules in force.
//!
//! Every signed-in role may read it: the console shows it on its About page, and whoever
//! configures a device needs the engine id.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::{ApiError, AppState};
use crate::event::{format_ns, now_ns};

/// Response of `GET /api/v1/system`.
#[derive(Debug, Serialize)]
pub struct SystemJson {
    pub version: &'static str,
    pub started_at: String,
    pub uptime_seconds: i64,
    /// trapline's snmpEngineID in hex (null until the trap listener created it).
    pub snmp_engine_id: Option<String>,
    pub snmp_engine_boots: Option<u32>,
    /// Events in the store (an estimate kept by the writer).
    pub events_stored: u64,
    /// Bytes of compressed event blocks (what retention by size counts).
    pub event_bytes: u64,
    /// Rules and maintenance windows from rule files in force.
    pub rules: usize,
}

/// `GET /api/v1/system`.
pub async fn system(State(state): State<AppState>) -> Result<Json<SystemJson>, ApiError> {
    let store = state.store.clone();
    let (engine_id, boots) = super::blocking(move || {
        let meta = store.records("snmp_engine")?;
        let engine_id = meta.get("engine_id")?;
        let boots = meta
            .get("engine_boots")?
            .and_then(|b| <[u8; 4]>::try_from(b.as_slice()).ok())
            .map(u32::from_be_bytes);
        Ok((engine_id, boots))
    })
    .await?;
    let now = now_ns();
    Ok(Json(SystemJson {
        version: env!("CARGO_PKG_VERSION"),
        started_at: format_ns(state.started_ns),
        uptime_seconds: (now - state.started_ns) / 1_000_000_000,
        snmp_engine_id: engine_id.map(|id| id.iter().map(|b| format!("{b:02x}")).collect()),
        snmp_engine_boots: boots,
        events_stored: state.store.event_count_estimate(),
        event_bytes: state.store.stored_block_bytes(),
        rules: state.rules.current().rules().len(),
    }))
}
