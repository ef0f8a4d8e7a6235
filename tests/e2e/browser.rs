//! The operators' console in real headless Chromium, driven over WebDriver (chromedriver +
//! fantoccini): log in with the form, see an alert raised by `logger` appear without a reload,
//! acknowledge it from its row, answer "archive instead?" on delete, and check that device
//! text with markup is shown as text and runs nothing (issue 5).
//!
//! `tests/run.sh` installs Debian's `chromium` and `chromium-driver` when missing; this test
//! fails (it does not skip) when they are absent.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::harness::{Instance, TESTER_PASSWORD, logger};

/// chromedriver and a WebDriver session on a fresh headless Chromium profile.
struct Browser {
    driver: Child,
    client: Client,
    runtime: tokio::runtime::Runtime,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian chromium-driver) is installed: run tests/run.sh");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // The flags keep Chromium off the network this machine does not have (it would try
        // Google's hosts at every start) and make it run as root in a container.
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = runtime
            .block_on(
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(capabilities)
                    .connect(&format!("http://127.0.0.1:{port}")),
            )
            .expect("a WebDriver session with headless Chromium");
        Browser {
            driver,
            client,
            runtime,
            _profile: profile,
        }
    }

    fn run<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(future)
    }

    fn goto(&self, url: &str) {
        self.run(self.client.goto(url)).unwrap();
    }

    /// Waits (at most 15 s) for an element; panics with the page's text if it never comes.
    fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        let found = self.run(
            self.client
                .wait()
                .at_most(Duration::from_secs(15))
                .for_element(Locator::Css(css)),
        );
        match found {
            Ok(element) => element,
            Err(error) => panic!("no {css} ({error}); page: {}", self.page_text()),
        }
    }

    fn page_text(&self) -> String {
        self.run(async {
            let body = self.client.find(Locator::Css("body")).await?;
            body.text().await
        })
        .unwrap_or_default()
    }

    fn text(&self, css: &str) -> String {
        self.run(async { self.wait_for_now(css).await?.text().await })
            .unwrap()
    }

    async fn wait_for_now(
        &self,
        css: &str,
    ) -> Result<fantoccini::elements::Element, fantoccini::error::CmdError> {
        self.client.find(Locator::Css(css)).await
    }

    fn count(&self, css: &str) -> usize {
        self.run(self.client.find_all(Locator::Css(css)))
            .unwrap()
            .len()
    }

    fn click(&self, css: &str) {
        let element = self.wait_for(css);
        self.run(element.click()).unwrap();
    }

    fn type_into(&self, css: &str, text: &str) {
        let element = self.wait_for(css);
        self.run(element.send_keys(text)).unwrap();
    }

    /// Saves a PNG of the page to `$TRAPLINE_SCREENSHOTS/NAME.png` when that is set (for
    /// looking at the console while working on it; tests assert on the DOM, not on pixels).
    fn screenshot(&self, name: &str) {
        if let Some(dir) = std::env::var_os("TRAPLINE_SCREENSHOTS") {
            let png = self.run(self.client.screenshot()).unwrap();
            std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
        }
    }

    fn script(&self, code: &str) -> Value {
        self.run(self.client.execute(code, vec![])).unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let client = self.client.clone();
        let _ = self.runtime.block_on(client.close());
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Sends one RFC 3164 message at `priority` over UDP with `logger`.
fn send(tl: &Instance, priority: &str, message: &str) {
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &tl.syslog_udp.port().to_string(),
        "--udp",
        "--rfc3164",
        "-t",
        "browser-test",
        "-p",
        priority,
        message,
    ]);
}

/// Logs in through the form as `user` and waits for the console's first page.
fn log_in_as(browser: &Browser, tl: &Instance, user: &str, password: &str) {
    browser.goto(&tl.url("/"));
    browser.type_into("input[name=username]", user);
    browser.type_into("input[name=password]", password);
    browser.click("button[type=submit]");
    browser.wait_for("body[data-page] header.top");
}

/// Logs in as the operator `tester` and waits until the alert page is live.
fn log_in(browser: &Browser, tl: &Instance) {
    log_in_as(browser, tl, "tester", TESTER_PASSWORD);
    browser.wait_for("body[data-page=alerts] #live.on");
}

#[test]
fn an_operator_sees_a_new_alert_live_and_acknowledges_it_from_the_page() {
    let tl = Instance::start();
    let browser = Browser::start();
    log_in(&browser, &tl);
    assert_eq!(browser.count("tr.alert"), 0, "no alerts yet");

    // Hostile text: markup and an event handler, as any device can send.
    let hostile =
        "core down <script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">";
    send(&tl, "local0.alert", hostile);
    let row = browser.wait_for("tr.alert[data-level=critical]");
    let id: u64 = browser
        .run(row.attr("data-alert-id"))
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    let summary = browser.text(&format!("tr.alert[data-alert-id=\"{id}\"] td.summary"));
    assert!(
        summary.contains("<script>window.__pwned=1</script>"),
        "{summary}"
    );
    assert!(summary.contains("onerror="), "{summary}");
    assert_eq!(browser.count("#alert-rows img, #alert-rows script"), 0);
    assert_eq!(
        browser.script("return window.__pwned === undefined"),
        json!(true)
    );
    assert_eq!(browser.text("[data-count=critical] .n"), "1");
    browser.screenshot("alerts");

    // Acknowledge from the row; the row and the API both say so.
    browser.click(&format!(
        "tr.alert[data-alert-id=\"{id}\"] button[data-action=ack]"
    ));
    browser.wait_for(&format!(
        "tr.alert[data-alert-id=\"{id}\"][data-state=acked]"
    ));
    let (status, alert) = tl.api(&format!("/api/v1/alerts/{id}"));
    assert_eq!(status, 200);
    assert_eq!(alert["state"], "acked");
    let last = alert["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["by"].as_str(), last["action"].as_str()),
        (Some("tester"), Some("ack"))
    );
    assert_eq!(
        browser.text("[data-count=critical] .n"),
        "0",
        "acked leaves the open count"
    );

    // Delete asks "archive instead?"; archiving takes the alert off the active list.
    send(&tl, "local0.emerg", "second alert for the delete question");
    let second = browser.wait_for("tr.alert[data-state=open]");
    let second_id = browser.run(second.attr("data-alert-id")).unwrap().unwrap();
    browser.click(&format!(
        "tr.alert[data-alert-id=\"{second_id}\"] button[data-action=delete]"
    ));
    browser.wait_for("dialog[open] button[value=archive]");
    browser.screenshot("delete-dialog");
    assert!(browser.text("dialog[open]").contains("Archive instead?"));
    browser.click("dialog[open] button[value=archive]");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, alert) = tl.api(&format!("/api/v1/alerts/{second_id}"));
        if alert["state"] == "archived" {
            break;
        }
        assert!(Instant::now() < deadline, "not archived: {alert}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let gone = Instant::now() + Duration::from_secs(10);
    while browser.count(&format!("tr.alert[data-alert-id=\"{second_id}\"]")) > 0 {
        assert!(
            Instant::now() < gone,
            "the archived alert stays on the page"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The events page and the raw view show the same text, as text.
    browser.goto(&tl.url("/events?level=critical"));
    browser.wait_for("#event-rows tr[data-level=critical]");
    let listed = browser.text("#event-rows");
    assert!(listed.contains(hostile.split_at(10).1), "{listed}");
    let event_id = alert["event_ids"][0].as_u64().unwrap();
    browser.goto(&tl.url(&format!("/events/{event_id}")));
    browser.wait_for("body[data-page=event] #event-fields dd");
    browser.screenshot("event");
    let message = browser.text("#event-message");
    assert!(message.contains(hostile), "{message}");
    assert_eq!(browser.count("main img, main script"), 0);
    assert_eq!(
        browser.script("return window.__pwned === undefined"),
        json!(true)
    );
}

#[test]
fn pages_show_each_role_only_its_menu() {
    let (dir, token) = crate::harness::prepare_data_dir();
    let admin = crate::harness::add_user_with_token(dir.path(), "adam", "admin");
    let tl = Instance::start_in(dir, token, &[]);
    let browser = Browser::start();
    log_in(&browser, &tl);
    let menu = browser.text("nav.menu");
    assert!(menu.contains("Alerts") && menu.contains("Events"), "{menu}");
    assert!(
        !menu.contains("Logins"),
        "operators do not see the login audit: {menu}"
    );
    browser.goto(&tl.url("/logins"));
    assert!(
        browser
            .page_text()
            .contains("Your role may not open this page")
    );

    // An admin lands on the user list (no alert page), adds a user there, and sees the audit.
    browser.goto(&tl.url("/"));
    browser.click("form.logout button");
    log_in_as(&browser, &tl, "adam", "another-password-2");
    browser.wait_for("body[data-page=users] #user-rows tr[data-user=tester]");
    let menu = browser.text("nav.menu");
    assert!(
        menu.contains("Users") && menu.contains("Logins") && !menu.contains("Alerts"),
        "{menu}"
    );
    browser.type_into("#new-user input[name=name]", "olga");
    browser
        .run(async {
            let role = browser
                .client
                .find(Locator::Css("#new-user select[name=role]"))
                .await?;
            role.select_by_value("oncall").await
        })
        .unwrap();
    browser.type_into("#new-user input[name=password]", "olga-password-1");
    browser.type_into("#new-user input[name=email]", "olga@example.net");
    browser.click("#new-user button[type=submit]");
    browser.wait_for("#user-rows tr[data-user=olga]");
    let (status, users) = tl.send_as(&admin, "GET", "/api/v1/users", None);
    assert_eq!(status, 200);
    let olga = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "olga")
        .unwrap()
        .clone();
    assert_eq!(
        (olga["role"].as_str(), olga["email"].as_str()),
        (Some("oncall"), Some("olga@example.net"))
    );

    // The About page shows trapline's SNMP engine id, as logged at start (v3 inform senders
    // are configured with it).
    browser.goto(&tl.url("/about"));
    let shown = browser.wait_for("dd[data-fact=\"SNMP engine id\"]");
    let shown = browser.run(shown.text()).unwrap();
    let logged = tl
        .log()
        .split("engine_id=")
        .nth(1)
        .map(|rest| rest.split_whitespace().next().unwrap().to_string())
        .expect("the engine id is logged at start");
    assert_eq!(shown, format!("0x{logged}"));

    browser.goto(&tl.url("/logins"));
    browser.wait_for("body[data-page=logins] #login-rows tr");
    let audit = browser.text("#login-rows");
    assert!(
        audit.contains("tester") && audit.contains("adam"),
        "{audit}"
    );

    // The on-call page: an admin adds a shift for olga (rank 1, now) and saves; the page then
    // shows her on call now.
    browser.goto(&tl.url("/oncall"));
    browser.wait_for("body[data-page=oncall] #new-shift select[name=user] option[value=olga]");
    browser
        .run(async {
            let user = browser
                .client
                .find(Locator::Css("#new-shift select[name=user]"))
                .await?;
            user.select_by_value("olga").await?;
            // datetime-local in the browser's time zone: from an hour ago to tomorrow.
            browser
                .client
                .execute(
                    "const f = document.querySelector('#new-shift').elements;\
                     const iso = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);\
                     f.start.value = iso(new Date(Date.now() - 3600000));\
                     f.end.value = iso(new Date(Date.now() + 86400000));",
                    vec![],
                )
                .await?;
            Ok::<(), fantoccini::error::CmdError>(())
        })
        .unwrap();
    browser.click("#new-shift button[type=submit]");
    browser.wait_for("#shift-rows tr[data-user=olga]");
    browser.click("#oncall-save button[type=submit]");
    browser.wait_for("#oncall-now li[data-rank='1']");
    assert!(browser.text("#oncall-now").contains("olga"));
    let (status, schedule) = tl.send_as(&admin, "GET", "/api/v1/oncall", None);
    assert_eq!(status, 200);
    assert_eq!(schedule["now"][0]["users"], serde_json::json!(["olga"]));
}

#[test]
fn an_operator_describes_a_host_from_its_page() {
    let tl = Instance::start();
    send(&tl, "local0.alert", "fan failure on tray 2");
    let browser = Browser::start();
    log_in(&browser, &tl);
    // The alert's host links to its equipment page.
    let link = browser.wait_for("tr.alert td:nth-child(4) a");
    let host = browser.run(link.text()).unwrap();
    browser.run(link.click()).unwrap();
    browser.wait_for("body[data-page=host] #host-facts dd");
    assert!(browser.text("#host-title").contains(&host));
    browser.wait_for("#timeline-rows tr[data-type=alert]");
    let timeline = browser.text("#timeline-rows");
    assert!(timeline.contains("fan failure on tray 2"), "{timeline}");
    // Operators edit the description, not the criticality zone (managers administer it).
    assert_eq!(
        browser.script("return document.querySelector('#host-form [name=zone]').disabled"),
        json!(true)
    );
    assert_eq!(browser.count("#host-forget[hidden]"), 1);
    browser.type_into("#host-form [name=location]", "rack B4, room 2");
    browser.click("#host-save");
    browser.wait_for("#host-updated:not(:empty)");
    let (status, described) = tl.api(&format!("/api/v1/hosts/{host}"));
    assert_eq!(status, 200);
    assert_eq!(described["location"], "rack B4, room 2");
    assert_eq!(described["updated_by"], "tester");
    // The list shows it with its open alert.
    browser.goto(&tl.url("/hosts"));
    browser.wait_for(&format!("#host-rows tr[data-host=\"{host}\"]"));
    let row = browser.text(&format!("#host-rows tr[data-host=\"{host}\"]"));
    assert!(row.contains("rack B4, room 2"), "{row}");
}

#[test]
fn an_operator_opens_an_incident_from_an_alert_row_and_resolves_it() {
    let tl = Instance::start();
    let browser = Browser::start();
    log_in(&browser, &tl);
    send(&tl, "user.alert", "UPS on battery in room 2");
    browser.wait_for("tr.alert[data-level=critical]");
    browser.click("tr.alert [data-details]");
    browser.click("[data-open-incident]");
    // The incident page, prefilled from the alert.
    browser.wait_for("body[data-page=incident] dd[data-fact=source]");
    assert_eq!(browser.text("dd[data-fact=source]"), "alert");
    assert_eq!(browser.text("dd[data-fact=severity]"), "red");
    assert!(
        browser
            .text("#incident-title")
            .contains("UPS on battery in room 2"),
        "{}",
        browser.text("#incident-title")
    );
    // A final resolution line resolves it; the close form appears for the operator.
    browser.type_into("#resolve-form textarea[name=text]", "Mains power restored.");
    browser.click("#resolve-form input[name=final]");
    browser.click("#resolve-form button[type=submit]");
    browser.wait_for("#close-form:not([hidden])");
    assert_eq!(browser.text("dd[data-fact=state]"), "resolved");
    browser.click("#close-form button[type=submit]");
    browser.wait_for("#close-form[hidden]");
    browser.goto(&tl.url("/incidents?kb=true&q=mains"));
    browser.wait_for("#incident-rows tr[data-state=closed]");
}
