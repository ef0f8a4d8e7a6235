//! The command line, as the contract fixes it: `run`, `check-config`, `check-rules`,
//! `user add`, `token create`, `backup`, `restore`, plus `test-rules`, `replay` and `compact`. Only definitions live here; `main.rs` dispatches them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// trapline: syslog and SNMP-trap ingestion and alerting appliance.
#[derive(Debug, Parser)]
#[command(name = "trapline", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the appliance in the foreground (SIGTERM/SIGINT stop it gracefully).
    Run(RunArgs),
    /// Validate the config file and every rule file; print `ok` or `file:line:col: message` per error.
    CheckConfig(ConfigArg),
    /// Validate a rules directory alone (names rules give `forward` are checked against the
    /// `[[forward]]` tables of the config: `--config`, else the embedded default, which has none).
    CheckRules {
        /// Directory of `*.toml` rule files.
        dir: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Run test cases (sample syslog lines and traps with times) through a rules directory and
    /// check the alerts they raise, fold, clear or suppress; exits 1 if any case fails.
    TestRules {
        /// Directory of `*.toml` rule files (`builtin` for the built-in pack).
        dir: PathBuf,
        /// Case files (TOML, `[[case]]` tables; see `trapline test-rules --help`).
        #[arg(required = true)]
        cases: Vec<PathBuf>,
    },
    /// Run a captured log file (one syslog message per line) through the rules and print the
    /// alerts it would raise and clear.
    Replay {
        /// The log file (`-` for standard input).
        file: PathBuf,
        /// Rules directory (default: the built-in rule pack).
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
        /// More MIB directories for traps in the input.
        #[arg(long = "mib-dir", value_name = "DIR")]
        mib_dirs: Vec<PathBuf>,
    },
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Write a consistent backup of the whole store (events, alerts, users, tokens, every
    /// record, and the incident archive) to FILE. Works while trapline runs: the running
    /// process makes the copy and sends it over DATA/control.sock.
    Backup(BackupArgs),
    /// Restore a backup as the data directory. Refuses while a trapline uses the store, and
    /// refuses a non-empty directory unless --force (which moves it to DIR.before-restore-TIME;
    /// nothing is deleted). The file is verified (SHA-256) before anything is touched.
    Restore(RestoreArgs),
    /// Rewrite the store into fresh files to give the space retention freed back to the file
    /// system (sled never shrinks its files). Offline: stop trapline first.
    Compact(CompactArgs),
}

/// `trapline backup --out FILE`
#[derive(Debug, Args, Clone)]
pub struct BackupArgs {
    /// Where to write the backup (written to FILE.tmp, synced, verified, then renamed).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub data: DataArg,
}

/// `trapline restore --from FILE`
#[derive(Debug, Args, Clone)]
pub struct RestoreArgs {
    /// The backup file to restore.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// Restore even if the data directory is not empty: the old one is moved aside to
    /// DIR.before-restore-TIME, never deleted.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub data: DataArg,
}

/// `trapline compact`
#[derive(Debug, Args, Clone)]
pub struct CompactArgs {
    #[command(flatten)]
    pub data: DataArg,
}

/// `--config FILE`, shared by the commands that read a config.
#[derive(Debug, Args, Clone)]
pub struct ConfigArg {
    /// Config file (TOML); without it the embedded defaults apply.
    #[arg(long, env = "TRAPLINE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `--data DIR` for commands that touch the store.
#[derive(Debug, Args, Clone)]
pub struct DataArg {
    /// Data directory (the store).
    #[arg(long, env = "TRAPLINE_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// Options of `trapline run`; each wins over the config file.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Data directory (the store).
    #[arg(long, env = "TRAPLINE_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Syslog UDP listen address (empty string disables).
    #[arg(long, env = "TRAPLINE_SYSLOG_UDP", value_name = "ADDR")]
    pub syslog_udp: Option<String>,
    /// Syslog TCP listen address (empty string disables).
    #[arg(long, env = "TRAPLINE_SYSLOG_TCP", value_name = "ADDR")]
    pub syslog_tcp: Option<String>,
    /// Syslog over TLS (RFC 5425) listen address; needs `[syslog_tls]` cert and key in the
    /// config (empty string disables; off by default).
    #[arg(long, env = "TRAPLINE_SYSLOG_TLS", value_name = "ADDR")]
    pub syslog_tls: Option<String>,
    /// SNMP trap UDP listen address (empty string disables).
    #[arg(long, env = "TRAPLINE_TRAP_UDP", value_name = "ADDR")]
    pub trap_udp: Option<String>,
    /// HTTP listen address (web UI, API, metrics).
    #[arg(long, env = "TRAPLINE_HTTP", value_name = "ADDR")]
    pub http: Option<String>,
    /// Rules directory (default: the rule pack built into the binary).
    #[arg(long, env = "TRAPLINE_RULES", value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// If the store is corrupt, move it aside (DIR.corrupt-TIME) and start with an empty one.
    #[arg(long)]
    pub move_corrupt_store: bool,
}

/// `trapline user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input (first line), never from argv.
    Add {
        /// User name.
        name: String,
        /// One of operator, manager, oncall, admin, viewer.
        #[arg(long)]
        role: String,
        /// Mail address (notifications, scheduled reports).
        #[arg(long)]
        email: Option<String>,
        #[command(flatten)]
        data: DataArg,
    },
}

/// `trapline token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a new API bearer token for a user (the store keeps only its hash).
    Create {
        /// User the token acts as.
        name: String,
        #[command(flatten)]
        data: DataArg,
    },
}
