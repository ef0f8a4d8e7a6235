//! The `trapline` binary: parse the command line, set up logging, dispatch. Everything else
//! lives in the library; this file only turns results into exit codes.

use std::io::BufRead;
use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc malloc: events are allocated on the listener threads and freed on
/// the store writer, and glibc's arena locks showed up as futex waits in ingest profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use trapline::accounts::{Accounts, Role};
use trapline::cli::{
    BackupArgs, Cli, Command, CompactArgs, ConfigArg, DataArg, RestoreArgs, RunArgs, TokenCommand,
    UserCommand,
};
use trapline::config::{self, Overrides, Settings};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::CheckConfig(args) => return check_config(&args),
        Command::CheckRules { dir, config } => {
            return match load_settings(&config, &Overrides::default()) {
                Ok(settings) => check_rules(&dir, &settings),
                Err(error) => {
                    println!("{error}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::TestRules { dir, cases } => return test_rules(&dir, &cases),
        Command::Replay {
            file,
            rules,
            mib_dirs,
        } => replay(&file, rules.as_deref(), &mib_dirs),
        Command::User(UserCommand::Add {
            name,
            role,
            email,
            data,
        }) => user_add(&name, &role, email, &data),
        Command::Token(TokenCommand::Create { name, data }) => token_create(&name, &data),
        Command::Backup(args) => backup(&args),
        Command::Restore(args) => restore(&args),
        Command::Compact(args) => compact(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("trapline: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRAPLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

fn load_settings(config: &ConfigArg, overrides: &Overrides) -> anyhow::Result<Settings> {
    let (name, file) = config::read_config(config.config.as_deref())?;
    Ok(Settings::build(&name, file, overrides)?)
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        data: args.data.clone(),
        syslog_udp: args.syslog_udp.clone(),
        syslog_tcp: args.syslog_tcp.clone(),
        syslog_tls: args.syslog_tls.clone(),
        trap_udp: args.trap_udp.clone(),
        http: args.http.clone(),
        rules: args.rules.clone(),
    };
    let settings = load_settings(&args.config, &overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(trapline::app::run(settings, args.move_corrupt_store))?;
    Ok(())
}

fn check_config(args: &ConfigArg) -> ExitCode {
    match load_settings(args, &Overrides::default()) {
        Ok(settings)
            if !check_snmp(&settings) | !check_tls(&settings) | !check_forwards(&settings) =>
        {
            ExitCode::FAILURE
        }
        Ok(settings) => match settings.rules_dir.as_deref() {
            Some(dir) => check_rules(dir, &settings),
            None => {
                println!("ok");
                ExitCode::SUCCESS
            }
        },
        Err(error) => {
            println!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Checks `[snmp]` (protocol names, keys) and every MIB module in `mib_dirs`; prints one line
/// per problem (`file:line:col: message` for MIBs) and returns false if there was any.
fn check_snmp(settings: &Settings) -> bool {
    let mut ok = true;
    let engine_id = trapline::snmp::generate_engine_id();
    let snmp = trapline::snmp::SnmpSettings::from_config(
        &settings.snmp,
        engine_id,
        1,
        std::time::Instant::now(),
    );
    if let Err(error) = snmp.and_then(trapline::snmp::SnmpReceiver::new) {
        println!("[snmp]: {error}");
        ok = false;
    }
    for error in trapline::app::load_mibs(settings).1 {
        println!("{error}");
        ok = false;
    }
    ok
}

/// Reads the certificates and keys (`[http] tls_cert`, `tls_key`; `[syslog_tls]` when its
/// listener is on, with `client_ca`) as `run` would; prints each problem and returns false if
/// any cannot be used.
fn check_tls(settings: &Settings) -> bool {
    let mut ok = true;
    if let Some(files) = &settings.http_tls
        && let Err(error) = trapline::tls::load_certified_key(files)
    {
        println!("{error}");
        ok = false;
    }
    if let Some(syslog_tls) = &settings.syslog_tls
        && let Err(error) = trapline::listen::SyslogTlsServer::load(syslog_tls)
    {
        println!("{error}");
        ok = false;
    }
    ok
}

/// Reads the TLS files of every `tls` forward as `run` would; prints each problem and returns
/// false if there was any.
fn check_forwards(settings: &Settings) -> bool {
    let errors = trapline::forward::check(&settings.forwards);
    for error in &errors {
        println!("{error}");
    }
    errors.is_empty()
}

/// Compiles every rule file of `dir` (forward names checked against `settings`); prints `ok`
/// or one `file:line:col: message` per error.
fn check_rules(dir: &std::path::Path, settings: &Settings) -> ExitCode {
    let context = trapline::rules::LoadContext::from_settings(settings);
    match trapline::rules::check_dir(dir, &context) {
        Ok(()) => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for error in errors {
                println!("{error}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The rules of `dir`, or the built-in pack for `builtin`; errors printed.
fn rules_of(dir: Option<&std::path::Path>) -> Option<trapline::rules::RuleSet> {
    match dir {
        None => Some(trapline::rules::RuleSet::default_pack()),
        Some(dir) if dir.as_os_str() == "builtin" => Some(trapline::rules::RuleSet::default_pack()),
        Some(dir) => match trapline::rules::load_dir(dir) {
            Ok(rules) => Some(rules),
            Err(errors) => {
                for error in errors {
                    println!("{error}");
                }
                None
            }
        },
    }
}

fn test_rules(dir: &std::path::Path, cases: &[std::path::PathBuf]) -> ExitCode {
    let Some(_) = rules_of(Some(dir)) else {
        return ExitCode::FAILURE;
    };
    let mibs = trapline::mib::MibSet::bundled();
    let fresh = || rules_of(Some(dir)).expect("the rules compiled a moment ago");
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in cases {
        match trapline::offline::run_cases(&fresh, file, &mibs) {
            Ok(results) => {
                for result in results {
                    if result.failures.is_empty() {
                        passed += 1;
                        println!("PASS {}: {}", file.display(), result.name);
                    } else {
                        failed += 1;
                        println!("FAIL {}: {}", file.display(), result.name);
                        for failure in result.failures {
                            println!("  {failure}");
                        }
                    }
                }
            }
            Err(error) => {
                failed += 1;
                println!("ERROR {error}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn replay(
    file: &std::path::Path,
    rules: Option<&std::path::Path>,
    mib_dirs: &[std::path::PathBuf],
) -> anyhow::Result<()> {
    let rules = rules_of(rules).ok_or_else(|| anyhow::anyhow!("rules refused"))?;
    let (mibs, errors) = trapline::mib::MibSet::with_dirs(mib_dirs);
    for error in errors {
        eprintln!("MIB skipped: {error}");
    }
    let input: Box<dyn std::io::BufRead> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?,
        ))
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let summary = trapline::offline::replay(rules, mibs, input, &mut out)?;
    println!(
        "{} lines, {} dropped by rules, {} alerts raised, {} cleared, {} active at the end",
        summary.lines, summary.dropped, summary.raised, summary.cleared, summary.active_at_end
    );
    Ok(())
}

/// The data directory and store options of a command that takes `--data DIR`.
fn data_settings(
    data: &DataArg,
) -> anyhow::Result<(std::path::PathBuf, trapline::store::StoreOptions)> {
    let settings = load_settings(
        &data.config,
        &Overrides {
            data: data.data.clone(),
            ..Default::default()
        },
    )?;
    let options = trapline::app::store_options(&settings);
    Ok((settings.data_dir, options))
}

fn backup(args: &BackupArgs) -> anyhow::Result<()> {
    let (data_dir, options) = data_settings(&args.data)?;
    let done = trapline::backup::backup(&data_dir, &options, &args.out)?;
    let s = done.summary;
    println!(
        "backup written to {} ({} bytes, {}): {} events (ids below {}), {} trees, {} records, {} files",
        args.out.display(),
        done.bytes,
        match done.source {
            trapline::backup::BackupSource::Online => "made by the running trapline",
            trapline::backup::BackupSource::Offline => "store not running",
        },
        s.events,
        s.watermark_id,
        s.counts.trees,
        s.counts.entries,
        s.counts.files
    );
    Ok(())
}

fn restore(args: &RestoreArgs) -> anyhow::Result<()> {
    let (data_dir, options) = data_settings(&args.data)?;
    let done = trapline::backup::restore(&data_dir, &options, &args.from, args.force)?;
    if let Some(aside) = &done.moved_aside {
        println!(
            "the previous data directory was moved to {}",
            aside.display()
        );
    }
    let r = &done.report;
    println!(
        "restored {} (made {} by trapline {}) into {}: {} events, {} trees, {} records, {} files",
        args.from.display(),
        trapline::event::format_ns(r.info.created_ns),
        r.info.trapline_version,
        data_dir.display(),
        r.events,
        r.counts.trees,
        r.counts.entries,
        r.counts.files
    );
    Ok(())
}

fn compact(args: &CompactArgs) -> anyhow::Result<()> {
    let (data_dir, options) = data_settings(&args.data)?;
    let r = trapline::backup::compact(&data_dir, &options)?;
    let store = trapline::backup::store_dir(&data_dir);
    if r.swapped {
        println!(
            "compacted {}: {} bytes before, {} bytes after ({} events, {} records kept)",
            store.display(),
            r.before_bytes,
            r.after_bytes,
            r.events,
            r.entries
        );
    } else {
        println!(
            "{} is compact already: {} bytes before, {} bytes after (left as it was; {} events)",
            store.display(),
            r.before_bytes,
            r.after_bytes,
            r.events
        );
    }
    Ok(())
}

fn open_accounts(data: &DataArg) -> anyhow::Result<(trapline::store::Store, Accounts)> {
    let settings = load_settings(
        &data.config,
        &Overrides {
            data: data.data.clone(),
            ..Default::default()
        },
    )?;
    let store = trapline::app::open_store(
        &settings.data_dir,
        &trapline::app::store_options(&settings),
        false,
    )?;
    let accounts = Accounts::new(&store)?;
    Ok((store, accounts))
}

fn user_add(name: &str, role: &str, email: Option<String>, data: &DataArg) -> anyhow::Result<()> {
    let role = Role::parse(role)
        .ok_or_else(|| trapline::accounts::AccountError::BadRole(role.to_string()))?;
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);
    let (_store, accounts) = open_accounts(data)?;
    accounts.add_user(name, role, password)?;
    if email.is_some() {
        let change = trapline::accounts::UserChange {
            email: Some(email),
            ..Default::default()
        };
        if let Err(error) = accounts.update_user(name, &change) {
            accounts.remove_user(name)?;
            return Err(error.into());
        }
    }
    println!("user {name} created with role {}", role.as_str());
    Ok(())
}

fn token_create(name: &str, data: &DataArg) -> anyhow::Result<()> {
    let (_store, accounts) = open_accounts(data)?;
    println!("{}", accounts.create_token(name)?);
    Ok(())
}
