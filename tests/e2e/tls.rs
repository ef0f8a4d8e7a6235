//! HTTPS on the web port through the real binary: a CA and a server certificate made at test
//! time, a login over HTTPS whose cookies are `Secure`, plain HTTP refused on that port, the
//! certificate reloaded on SIGHUP, and the config checks of `check-config` and `run`.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use reqwest::blocking::{Client, Response};
use reqwest::header;

use crate::harness::{TESTER_PASSWORD, add_user_with_token, prepare_data_dir, spawn_run, trapline};

/// A test CA that signs server certificates for 127.0.0.1 and localhost (and, for the syslog
/// TLS tests, client certificates).
pub(crate) struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    pub(crate) fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        TestCa { issuer }
    }

    fn root(&self) -> reqwest::Certificate {
        reqwest::Certificate::from_pem(self.issuer.pem().as_bytes()).unwrap()
    }

    /// The CA's own certificate (DER), for a client's root store.
    pub(crate) fn der(&self) -> Vec<u8> {
        self.issuer.der().to_vec()
    }

    /// Writes the CA's certificate to `dir/NAME` (PEM); returns the path.
    pub(crate) fn write_root(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, self.issuer.pem()).unwrap();
        path
    }

    /// Writes a certificate for `names` signed by this CA and its key to `dir/STEM.{crt,key}`;
    /// returns the two paths.
    pub(crate) fn write_pair(&self, dir: &Path, stem: &str, names: &[&str]) -> (PathBuf, PathBuf) {
        let (_, cert, key) = self.write_signed(dir, stem, names);
        (cert, key)
    }

    /// [`TestCa::write_pair`], also returning the certificate (DER).
    fn write_signed(&self, dir: &Path, stem: &str, names: &[&str]) -> (Vec<u8>, PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        let (cert_path, key_path) = (
            dir.join(format!("{stem}.crt")),
            dir.join(format!("{stem}.key")),
        );
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert.der().to_vec(), cert_path, key_path)
    }

    /// Writes a new server certificate and its key to `dir/server.{crt,key}`; returns the
    /// certificate (DER) and the two paths.
    pub(crate) fn write_server_pair(&self, dir: &Path) -> (Vec<u8>, PathBuf, PathBuf) {
        self.write_signed(dir, "server", &["127.0.0.1", "localhost"])
    }
}

/// A config file naming the certificate and key.
fn write_config(dir: &Path, cert: &Path, key: &Path) -> PathBuf {
    let path = dir.join("trapline.toml");
    std::fs::write(
        &path,
        format!(
            "[http]\ntls_cert = {:?}\ntls_key = {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        ),
    )
    .unwrap();
    path
}

/// Waits until the log contains `needle`; returns the rest of that line after it.
fn wait_for_log(child: &mut Child, log: &Arc<Mutex<String>>, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(rest) = log.lock().unwrap().lines().find_map(|line| {
            line.find(needle)
                .map(|at| line[at + needle.len()..].to_string())
        }) {
            return rest;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("trapline exited ({status}):\n{}", log.lock().unwrap());
        }
        assert!(
            Instant::now() < deadline,
            "no `{needle}` in the log:\n{}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A client that trusts only the test CA and follows no redirects; a fresh one per call, so
/// each gets a new connection (and sees the certificate served now).
fn https_client(ca: &TestCa) -> Client {
    Client::builder()
        .add_root_certificate(ca.root())
        .tls_built_in_root_certs(false)
        .tls_info(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The whole `Set-Cookie` line of cookie `name`.
fn set_cookie_line(response: &Response, name: &str) -> String {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", response.headers()))
        .to_string()
}

fn cookie_value(line: &str) -> &str {
    line.split(';').next().unwrap().split_once('=').unwrap().1
}

fn assert_cookie_attributes(line: &str) {
    let attributes: Vec<&str> = line.split(';').map(str::trim).skip(1).collect();
    for wanted in ["Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(attributes.contains(&wanted), "{wanted} missing: {line}");
    }
}

/// The server certificate (DER) a response came over.
fn peer_certificate(response: &Response) -> Vec<u8> {
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("TLS info")
        .to_vec()
}

#[test]
fn the_console_is_served_over_https_with_secure_cookies() {
    let (dir, _token) = prepare_data_dir();
    let admin = add_user_with_token(dir.path(), "adam", "admin");
    let ca = TestCa::new();
    let (first_cert, cert, key) = ca.write_server_pair(dir.path());
    let config = write_config(dir.path(), &cert, &key);
    let (mut child, log) = spawn_run(dir.path(), &["--config", config.to_str().unwrap()]);
    let rest = wait_for_log(&mut child, &log, "listening kind=http addr=");
    let mut words = rest.split_whitespace();
    let addr: std::net::SocketAddr = words.next().unwrap().parse().unwrap();
    assert_eq!(words.next(), Some("tls=true"), "{rest}");
    let url = |path: &str| format!("https://{addr}{path}");

    let client = https_client(&ca);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client
        .get(url("/readyz"))
        .send()
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(
            Instant::now() < deadline,
            "never ready:\n{}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // Log in with the form over HTTPS: every cookie is Secure, HttpOnly, SameSite=Strict.
    let form = client.get(url("/login")).send().unwrap();
    assert_eq!(form.status(), 200);
    assert_eq!(peer_certificate(&form), first_cert);
    let csrf_line = set_cookie_line(&form, "trapline_login_csrf");
    assert_cookie_attributes(&csrf_line);
    let csrf = cookie_value(&csrf_line).to_string();
    let login = client
        .post(url("/login"))
        .header(header::COOKIE, format!("trapline_login_csrf={csrf}"))
        .form(&[
            ("username", "tester"),
            ("password", TESTER_PASSWORD),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .unwrap();
    assert_eq!(login.status(), 303, "{:?}", login.text());
    let session_line = set_cookie_line(&login, "trapline_session");
    assert_cookie_attributes(&session_line);
    let cookie = format!("trapline_session={}", cookie_value(&session_line));
    let home = client
        .get(url("/"))
        .header(header::COOKIE, &cookie)
        .send()
        .unwrap();
    assert_eq!(home.status(), 200);
    let alerts = client
        .get(url("/api/v1/alerts"))
        .header(header::COOKIE, &cookie)
        .send()
        .unwrap();
    assert_eq!(alerts.status(), 200);

    // The client's address still reaches the login audit through the TLS listener.
    let audit: serde_json::Value = client
        .get(url("/api/v1/logins"))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(audit["logins"][0]["user"], "tester", "{audit}");
    assert_eq!(audit["logins"][0]["address"], "127.0.0.1", "{audit}");

    // Plain HTTP to the HTTPS port gets no HTTP answer.
    let plain = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .get(format!("http://{addr}/healthz"))
        .send();
    assert!(plain.is_err(), "plain HTTP answered: {plain:?}");

    // SIGHUP reads the (renewed) certificate again; new connections get it.
    let (renewed, _, _) = ca.write_server_pair(dir.path());
    unsafe {
        libc::kill(child.id() as i32, libc::SIGHUP);
    }
    wait_for_log(&mut child, &log, "Reloaded the web port's TLS certificate.");
    let health = https_client(&ca).get(url("/healthz")).send().unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(peer_certificate(&health), renewed);

    // Graceful stop as over HTTP.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "did not stop:\n{}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "{}", log.lock().unwrap());
}

#[test]
fn unusable_certificates_are_config_errors_for_check_config_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let (_, cert, key) = ca.write_server_pair(dir.path());
    let check = |config: &Path| {
        trapline(
            &["check-config", "--config", config.to_str().unwrap()],
            None,
        )
    };

    let good = write_config(dir.path(), &cert, &key);
    let (code, out, _) = check(&good);
    assert_eq!((code, out.trim()), (0, "ok"));

    let half = dir.path().join("half.toml");
    std::fs::write(
        &half,
        format!("[http]\ntls_cert = {:?}\n", cert.to_str().unwrap()),
    )
    .unwrap();
    let (code, out, _) = check(&half);
    assert_eq!(code, 1);
    assert!(
        out.contains("http.tls_cert is set but http.tls_key is not"),
        "{out}"
    );

    let missing = write_config(dir.path(), &dir.path().join("gone.crt"), &key);
    let (code, out, _) = check(&missing);
    assert_eq!(code, 1);
    assert!(
        out.contains("http.tls_cert") && out.contains("gone.crt"),
        "{out}"
    );

    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let broken = write_config(dir.path(), &cert, &key);
    let (code, out, _) = check(&broken);
    assert_eq!(code, 1);
    assert!(out.contains("http.tls_key"), "{out}");

    // `run` refuses to start with the same message, before it opens anything.
    let data = dir.path().join("data");
    let (code, _, err) = trapline(
        &[
            "run",
            "--config",
            broken.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
            "--syslog-udp",
            "127.0.0.1:0",
            "--syslog-tcp",
            "127.0.0.1:0",
            "--trap-udp",
            "127.0.0.1:0",
        ],
        None,
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("http.tls_key"), "{err}");
    assert!(!data.exists(), "nothing was created");
}
