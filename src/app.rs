//! Wires the pipeline for `trapline run`: opens the store, starts the store writer, the
//! listeners, retention and the HTTP server, and stops them in the right order.
//!
//! Start-up order: the certificates of the web port and the syslog TLS listener, if any (a
//! config error, before anything opens) → store (fails fast on a locked or corrupt store) →
//! accounts (first-start admin) → alert engine → notifier and outage recorder (both observe the
//! engine) → forward senders → writer thread → listeners → HTTP → control socket → ready.
//! Stop order is the reverse of the data flow: the control socket goes (a running backup is
//! cancelled), listeners stop reading, the queue drains into
//! the writer, the writer seals and flushes its last block (so every event that was read is
//! durable), the notifier takes the writer's last alert changes and stops (undelivered
//! notifications stay in the outbox for the next start), the forward senders stop (what they
//! did not deliver stays in their queues), then HTTP stops. Nothing in this file
//! parses, decodes or stores by itself.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::{error, info, warn};

use crate::accounts::Accounts;
use crate::alerts::{AlertEngine, EngineOptions};
use crate::config::Settings;
use crate::ingest::{self, Ingest, IngestReceiver};
use crate::listen;
use crate::mib::MibSet;
use crate::normalize::{LevelTable, Normalizer};
use crate::notify::{NotifyService, ServiceContext};
use crate::pipeline::{RuleStage, SharedAlerts};
use crate::rules::reload::{ActiveRules, Reloader};
use crate::rules::{LoadContext, RuleSet};
use crate::snmp::{SnmpReceiver, SnmpSettings};
use crate::store::{Store, StoreError, StoreOptions};
use crate::web::{self, AppState};

/// Why `run` could not start (or stopped with an error).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{0}\nThe store looks corrupt. Restore a backup, or start with `trapline run --move-corrupt-store` to move it aside and begin with an empty store."
    )]
    CorruptStore(StoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Accounts(#[from] crate::accounts::AccountError),
    #[error(transparent)]
    Listen(#[from] listen::ListenError),
    #[error("notifications: {0}")]
    Notify(#[from] crate::notify::service::NotifyError),
    #[error("[snmp]: {0}")]
    Snmp(#[from] crate::snmp::SettingsError),
    #[error("rules refused:\n{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Rules(Vec<crate::rules::LoadError>),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    Forward(#[from] crate::forward::ForwardError),
    #[error("cannot bind HTTP on {addr}: {source}")]
    Http {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Store options derived from the ingest settings.
pub fn store_options(settings: &Settings) -> StoreOptions {
    StoreOptions {
        cache_bytes: settings.ingest.cache_bytes,
        block_events: settings.ingest.block_events,
        block_max_age: settings.ingest.block_max_age,
        flush_interval: settings.ingest.flush_interval,
    }
}

/// Opens the store in `DATA/store`, moving a corrupt one aside only when told to.
pub fn open_store(
    data_dir: &Path,
    options: &StoreOptions,
    move_corrupt: bool,
) -> Result<Store, AppError> {
    let dir = &data_dir.join("store");
    std::fs::create_dir_all(dir).map_err(|source| AppError::DataDir {
        path: dir.display().to_string(),
        source,
    })?;
    match Store::open(dir, options) {
        Ok(store) => Ok(store),
        Err(error @ StoreError::Corrupt { .. }) if move_corrupt => {
            let moved = Store::move_aside(dir)?;
            warn!(%error, moved_to = %moved.display(), "Moved the corrupt store aside; starting with an empty store.");
            std::fs::create_dir_all(dir).map_err(|source| AppError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
            Ok(Store::open(dir, options)?)
        }
        Err(error @ StoreError::Corrupt { .. }) => Err(AppError::CorruptStore(error)),
        Err(error) => Err(error.into()),
    }
}

/// Runs the appliance until SIGTERM or SIGINT; returns after a graceful stop.
pub async fn run(settings: Settings, move_corrupt_store: bool) -> Result<(), AppError> {
    let tls = settings
        .http_tls
        .as_ref()
        .map(crate::tls::CertResolver::load)
        .transpose()?;
    let syslog_tls = settings
        .syslog_tls
        .as_ref()
        .map(listen::SyslogTlsServer::load)
        .transpose()?;
    let store = open_store(
        &settings.data_dir,
        &store_options(&settings),
        move_corrupt_store,
    )?;
    info!(data = %settings.data_dir.display(), "Store open.");

    let accounts = Arc::new(Accounts::new(&store)?);
    let env_password = std::env::var("TRAPLINE_ADMIN_PASSWORD").ok();
    if let Some(path) =
        accounts.ensure_initial_admin(&settings.data_dir, env_password.as_deref())?
    {
        info!(path = %path.display(), "Created user admin; its initial password is in this file (mode 0600).");
    }

    let rules = ActiveRules::new(load_rules(&settings)?);
    let alerts: SharedAlerts = Arc::new(Mutex::new(AlertEngine::open(
        &store,
        EngineOptions::default(),
    )?));
    let equipment = crate::equipment::Equipment::open(&store)?;
    // Before the writer starts: the notifier observes every alert the engine writes.
    let notifier = NotifyService::start(ServiceContext {
        store: store.clone(),
        accounts: accounts.clone(),
        rules: rules.clone(),
        alerts: alerts.clone(),
        notify: settings.notify.clone(),
        smtp: settings.smtp.clone(),
    })?;
    // Also before the writer: outages follow the alerts of `availability = true` rules.
    let outages =
        crate::availability::OutageRecorder::start(&store, rules.clone(), alerts.clone())?;
    let reports = crate::availability::schedule::ReportScheduler::start(
        crate::availability::schedule::ScheduleContext {
            store: store.clone(),
            accounts: accounts.clone(),
            mailer: notifier.incident_mailer(),
            periods: settings.reports.mail.clone(),
            timezone: settings.reports.timezone,
        },
    )?;
    let reloader = settings.rules_dir.clone().map(|dir| {
        Reloader::spawn(
            dir,
            LoadContext::from_settings(&settings),
            rules.clone(),
            Duration::from_secs(1),
        )
    });
    // Before the writer: it queues what rules forward, the senders take it from there.
    let (forwarder, forwarding) = crate::forward::start(&store, &settings.forwards)?;

    let normalizer = Normalizer::new(settings.sources.clone(), LevelTable::default());
    let (ingest, receiver) = ingest::channel(normalizer, settings.ingest.queue_events);
    let ingest = Arc::new(ingest);
    let writer = spawn_writer(
        store.clone(),
        receiver,
        RuleStage::new(rules.clone(), alerts.clone(), equipment.clone()).with_forwarder(forwarder),
    );
    let retention = spawn_retention(store.clone(), &settings);

    let traps = match settings.trap_udp {
        Some(_) => Some(trap_engine(&store, &settings)?),
        None => None,
    };
    let listeners = Listeners::start(&settings, ingest.clone(), traps, syslog_tls.as_ref()).await?;
    drop(ingest); // the listeners hold the only senders now: when they stop, the queue closes.
    for (kind, addr) in listeners.bound() {
        info!("listening kind={kind} addr={addr}");
    }

    let ready = Arc::new(AtomicBool::new(false));
    let state = AppState::new(
        store.clone(),
        accounts,
        rules.clone(),
        alerts.clone(),
        equipment,
        ready.clone(),
        settings.metrics_require_token,
    )?
    .with_incident_mailer(notifier.incident_mailer())
    .with_report_timezone(settings.reports.timezone);
    let (http_stop_tx, http_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (http_addr, http_task) = serve_http(settings.http, state, tls.as_ref(), async {
        let _ = http_stop_rx.await;
    })
    .await?;
    match tls {
        Some(_) => info!("listening kind=http addr={http_addr} tls=true"),
        None => info!("listening kind=http addr={http_addr}"),
    }
    // After the writer: a backup asks it for checkpoints. Without the socket trapline still
    // runs; only `trapline backup` while it runs is unavailable.
    let control = match crate::control::ControlServer::start(
        &crate::backup::control_socket(&settings.data_dir),
        store.clone(),
        &settings.data_dir,
    ) {
        Ok(server) => Some(server),
        Err(error) => {
            warn!(%error, "No control socket: online backups are unavailable.");
            None
        }
    };
    let mut signals = Signals::install();
    ready.store(true, Ordering::Release);
    crate::sd_notify::notify("READY=1");
    info!("trapline is ready.");

    let certificates = Certificates {
        http: tls.clone(),
        syslog: syslog_tls.map(|server| server.certificate),
    };
    wait_for_signal(&mut signals, reloader.as_ref(), &certificates).await;
    info!("Stopping: closing listeners, draining the queue, flushing the store.");
    crate::sd_notify::notify("STOPPING=1");
    if let Some(reloader) = reloader {
        reloader.stop();
    }
    ready.store(false, Ordering::Release);
    if let Some(control) = control {
        control.stop().await;
    }
    listeners.stop().await;
    join_thread(writer, "store writer").await;
    notifier.stop().await;
    forwarding.stop().await;
    outages.stop();
    reports.stop();
    retention.stop();
    let _ = http_stop_tx.send(());
    match tokio::time::timeout(Duration::from_secs(5), http_task).await {
        Ok(Ok(Err(error))) => warn!(%error, "HTTP server stopped with an error."),
        Err(_) => warn!("HTTP server did not stop within 5 s."),
        _ => {}
    }
    if let Err(error) = store.flush() {
        error!(%error, "Final store flush failed.");
    }
    info!("Stopped.");
    Ok(())
}

/// The web server: HTTPS with the certificate of `tls` (cookies then `Secure`), else HTTP.
async fn serve_http(
    addr: SocketAddr,
    state: AppState,
    tls: Option<&Arc<crate::tls::CertResolver>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>), AppError> {
    let served = match tls {
        Some(tls) => {
            let state = state.with_secure_cookies()?;
            web::serve_tls(addr, state, web::tls::https_config(tls), shutdown).await
        }
        None => web::serve(addr, state, shutdown).await,
    };
    served.map_err(|source| AppError::Http { addr, source })
}

/// The signals trapline acts on, installed before it reports ready: a SIGTERM that comes
/// right after `/readyz` (or systemd's `READY=1`) must mean a graceful stop, not the default
/// action's immediate death.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            term: signal(SignalKind::terminate()).expect("SIGTERM handler can be installed"),
            int: signal(SignalKind::interrupt()).expect("SIGINT handler can be installed"),
            hup: signal(SignalKind::hangup()).expect("SIGHUP handler can be installed"),
        }
    }
}

/// The certificates SIGHUP reads again.
struct Certificates {
    http: Option<Arc<crate::tls::CertResolver>>,
    syslog: Option<Arc<crate::tls::CertResolver>>,
}

/// Waits for SIGTERM or SIGINT; SIGHUP in the meantime reloads the rules and the TLS
/// certificates.
async fn wait_for_signal(
    signals: &mut Signals,
    reloader: Option<&Reloader>,
    certificates: &Certificates,
) {
    loop {
        tokio::select! {
            _ = signals.term.recv() => { info!("SIGTERM received."); return; }
            _ = signals.int.recv() => { info!("SIGINT received."); return; }
            _ = signals.hup.recv() => {
                match reloader {
                    Some(reloader) => { info!("SIGHUP received: reloading the rules."); reloader.request(); }
                    None => info!("SIGHUP received; the built-in rule pack is in use, nothing to reload."),
                }
                if let Some(http) = &certificates.http {
                    reload_certificate(http, "the web port's");
                }
                if let Some(syslog) = &certificates.syslog {
                    reload_certificate(syslog, "the syslog TLS listener's");
                }
            }
        }
    }
}

/// Reads a certificate and key again (SIGHUP); on error the current one stays. `whose` names
/// the listener in the log line ("the web port's").
fn reload_certificate(tls: &crate::tls::CertResolver, whose: &str) {
    match tls.reload() {
        Ok(()) => info!("Reloaded {whose} TLS certificate."),
        Err(error) => {
            warn!(%error, "Kept {whose} current TLS certificate: the new one cannot be used.")
        }
    }
}

/// The rules directory of the settings, or the built-in pack; refuses to start on errors.
fn load_rules(settings: &Settings) -> Result<RuleSet, AppError> {
    let rules = match &settings.rules_dir {
        Some(dir) => crate::rules::load_dir_with(dir, &LoadContext::from_settings(settings))
            .map_err(AppError::Rules)?,
        None => RuleSet::default_pack(),
    };
    info!(
        rules = rules.rules().len(),
        dir = %settings.rules_dir.as_deref().map_or("(built-in pack)".into(), |d| d.display().to_string()),
        "Rules loaded."
    );
    Ok(rules)
}

async fn join_thread(handle: JoinHandle<()>, name: &'static str) {
    if tokio::task::spawn_blocking(move || handle.join())
        .await
        .map(|r| r.is_err())
        .unwrap_or(true)
    {
        error!(thread = name, "Thread panicked while stopping.");
    }
}

/// What the trap listener needs: the SNMP protocol engine and the MIBs that name OIDs.
struct TrapEngine {
    receiver: Arc<SnmpReceiver>,
    mibs: Arc<MibSet>,
}

/// The bundled MIB modules plus those in the existing `mib_dirs` (the default dirs need not
/// exist); modules that do not parse are returned as errors and left out.
pub fn load_mibs(settings: &Settings) -> (MibSet, Vec<crate::mib::MibError>) {
    let dirs: Vec<_> = settings
        .mib_dirs
        .iter()
        .filter(|dir| dir.exists())
        .cloned()
        .collect();
    MibSet::with_dirs(&dirs)
}

/// Loads the MIBs (bundled + `mib_dirs`; a module that does not parse is reported and skipped)
/// and builds the SNMP engine with our persisted engine id and the next engine boots count.
fn trap_engine(store: &Store, settings: &Settings) -> Result<TrapEngine, AppError> {
    let started = std::time::Instant::now();
    let (mibs, errors) = load_mibs(settings);
    for error in &errors {
        warn!("MIB skipped: {error}");
    }
    info!(
        modules = mibs.modules().len(),
        nodes = mibs.len(),
        took_ms = started.elapsed().as_millis() as u64,
        "MIBs loaded."
    );
    let (engine_id, boots) = snmp_engine_identity(store)?;
    info!(engine_id = %hex(&engine_id), engine_boots = boots, "SNMP engine ready (v3 informs are sent to this engine id).");
    let snmp_settings =
        SnmpSettings::from_config(&settings.snmp, engine_id, boots, std::time::Instant::now())?;
    let receiver = SnmpReceiver::new(snmp_settings)?;
    Ok(TrapEngine {
        receiver: Arc::new(receiver),
        mibs: Arc::new(mibs),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Our snmpEngineID (generated once, then kept in the store so v3 senders need not rediscover
/// it) and snmpEngineBoots, incremented at every start (RFC 3414 §2.2.2).
fn snmp_engine_identity(store: &Store) -> Result<(Vec<u8>, u32), AppError> {
    let meta = store.records("snmp_engine")?;
    let engine_id = match meta.get("engine_id")? {
        Some(id) if !id.is_empty() => id,
        _ => {
            let id = crate::snmp::generate_engine_id();
            meta.put("engine_id", &id)?;
            id
        }
    };
    let boots = meta
        .get("engine_boots")?
        .and_then(|b| <[u8; 4]>::try_from(b.as_slice()).ok())
        .map_or(0, u32::from_be_bytes)
        .saturating_add(1)
        .min(2_147_483_647);
    meta.put("engine_boots", &boots.to_be_bytes())?;
    Ok((engine_id, boots))
}

/// The running syslog listeners and how to stop them.
struct Listeners {
    bound: Vec<(&'static str, SocketAddr)>,
    udp_stop: Arc<AtomicBool>,
    udp_threads: Vec<JoinHandle<()>>,
    tcp_stop: tokio::sync::watch::Sender<bool>,
    tcp_tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Listeners {
    /// Binds every configured listener; fails (and binds nothing further) on the first error.
    async fn start(
        settings: &Settings,
        ingest: Arc<Ingest>,
        traps: Option<TrapEngine>,
        syslog_tls: Option<&listen::SyslogTlsServer>,
    ) -> Result<Listeners, listen::ListenError> {
        let (tcp_stop, tcp_stop_rx) = tokio::sync::watch::channel(false);
        let mut listeners = Listeners {
            bound: Vec::new(),
            udp_stop: Arc::new(AtomicBool::new(false)),
            udp_threads: Vec::new(),
            tcp_stop,
            tcp_tasks: Vec::new(),
        };
        if let Some(addr) = settings.syslog_udp {
            let handle = listen::spawn_udp_syslog(
                addr,
                &settings.ingest,
                ingest.clone(),
                listeners.udp_stop.clone(),
            )?;
            listeners.bound.push(("syslog-udp", handle.local_addr));
            listeners.udp_threads.push(handle.thread);
        }
        if let (Some(addr), Some(traps)) = (settings.trap_udp, traps) {
            let handle = listen::spawn_udp_trap(
                addr,
                &settings.ingest,
                ingest.clone(),
                traps.receiver,
                traps.mibs,
                listeners.udp_stop.clone(),
            )?;
            listeners.bound.push(("trap-udp", handle.local_addr));
            listeners.udp_threads.push(handle.thread);
        }
        if let Some(addr) = settings.syslog_tcp {
            let (bound, task) = listen::bind_tcp_syslog(
                addr,
                &settings.ingest,
                ingest.clone(),
                tcp_stop_rx.clone(),
            )
            .await?;
            listeners.bound.push(("syslog-tcp", bound));
            listeners.tcp_tasks.push(task);
        }
        if let (Some(tls), Some(server)) = (&settings.syslog_tls, syslog_tls) {
            let (bound, task) =
                listen::bind_tls_syslog(tls.addr, server, &settings.ingest, ingest, tcp_stop_rx)
                    .await?;
            listeners.bound.push(("syslog-tls", bound));
            listeners.tcp_tasks.push(task);
        }
        Ok(listeners)
    }

    fn bound(&self) -> &[(&'static str, SocketAddr)] {
        &self.bound
    }

    /// Stops reading; returns once every listener has let go of the ingest queue.
    async fn stop(self) {
        self.udp_stop.store(true, Ordering::Release);
        let _ = self.tcp_stop.send(true);
        for task in self.tcp_tasks {
            let _ = task.await;
        }
        for thread in self.udp_threads {
            join_thread(thread, "udp listener").await;
        }
    }
}

/// The single store writer thread (see `store::run_writer_with`), with the rules and alerts
/// stage: runs until every listener has stopped and the queue is drained, then seals and flushes.
fn spawn_writer(store: Store, receiver: IngestReceiver, mut stage: RuleStage) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || crate::store::run_writer_with(store, receiver, &mut stage))
        .expect("store writer thread can be spawned")
}

/// Retention's incident step: closed incidents older than `max_age` go to
/// `DATA/archive/incidents-YYYY.jsonl` (`crate::incidents::archive`).
fn archive_incidents(store: &Store, data_dir: &std::path::Path, max_age: Option<Duration>) {
    let Some(max_age) = max_age else { return };
    let cutoff = crate::event::now_ns()
        .saturating_sub(i64::try_from(max_age.as_nanos()).unwrap_or(i64::MAX));
    let archived = crate::incidents::IncidentStore::open(store)
        .map_err(crate::incidents::IncidentError::from)
        .and_then(|incidents| {
            crate::incidents::archive::run(&incidents, &data_dir.join("archive"), cutoff)
        });
    if let Err(error) = archived {
        error!(%error, "Archiving old incidents failed.");
    }
}

/// Background retention: runs every `retention.interval` until stopped.
struct RetentionTask {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RetentionTask {
    fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn spawn_retention(store: Store, settings: &Settings) -> RetentionTask {
    let stop = Arc::new(AtomicBool::new(false));
    let retention = settings.retention.clone();
    let data_dir = settings.data_dir.clone();
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("retention".into())
        .spawn(move || {
            let step = Duration::from_millis(100);
            let mut waited = retention.interval; // run once at start
            while !flag.load(Ordering::Acquire) {
                if waited >= retention.interval {
                    waited = Duration::ZERO;
                    match store.apply_retention(
                        retention.events_max_age,
                        retention.max_bytes,
                        crate::event::now_ns(),
                    ) {
                        Ok(report) if report.deleted_events > 0 => {
                            info!(
                                deleted = report.deleted_events,
                                "Retention removed old events."
                            )
                        }
                        Ok(_) => {}
                        Err(error) => error!(%error, "Retention failed."),
                    }
                    archive_incidents(&store, &data_dir, retention.incidents_closed);
                }
                std::thread::sleep(step);
                waited += step;
            }
        })
        .expect("retention thread can be spawned");
    RetentionTask {
        stop,
        thread: Some(thread),
    }
}
