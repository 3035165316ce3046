//! The HTML report in a real browser: reports of small real runs (the reference and
//! Wasmtime over the `path_` scenarios, and over the `fd_` ones, among which are scenarios
//! that require a rights model Wasmtime lacks and `choice` scenarios) opened in headless
//! Chromium, whose DOM after load is dumped and read. Checked: no console message or
//! uncaught error (Chromium's stderr, and the page's own error hook, `#console-errors`),
//! the matrix has a row per runtime, and the filters (the `not-applicable` status and
//! verdict among them) and the drill-down (a choice's reasoning, a required capability's
//! probe), driven through the URL fragment, leave the state the page's script mirrors into
//! `#filter-state`. The JUnit file goes through Chromium's XML parser too (well-formedness).
//!
//! Without Chromium the tests are reported *ignored*, with the reason and the install
//! command; under `CI` (where `.ci/run` installs Debian's `chromium`) a missing Chromium is
//! an error. `CHROMIUM=/path/to/chrome` selects another binary. Own `main`
//! (`harness = false`) so that the tests can say at run time that they are ignored.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Why the browser is missing, and how to install it.
const NO_CHROMIUM: &str = "chromium not found on PATH: the HTML report's browser tests need it. Install Debian's \
                           chromium (`apt-get install -y --no-install-recommends chromium`; .ci/run does this) or set \
                           CHROMIUM to a Chromium or Chrome binary";

/// The browser: `CHROMIUM`, else the first Chromium or Chrome on `PATH`.
fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser", "google-chrome"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
}

fn chromium() -> PathBuf {
    find_chromium().unwrap_or_else(|| panic!("{NO_CHROMIUM}"))
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let tests: [(&str, fn()); 2] = [
        ("not_applicable_and_choices_in_headless_chromium", not_applicable_and_choices_in_headless_chromium),
        ("html_report_in_headless_chromium", html_report_in_headless_chromium),
    ];
    let present = find_chromium().is_some();
    let required = std::env::var_os("CI").is_some();
    if !present && !required {
        eprintln!("note: {NO_CHROMIUM}; the browser tests are marked ignored");
    }
    let trials = tests
        .into_iter()
        .map(|(name, test)| {
            libtest_mimic::Trial::test(name, move || {
                if !present {
                    return Err(format!("{NO_CHROMIUM} (required because CI is set)").into());
                }
                std::panic::catch_unwind(test).map_err(|p| {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_else(|| "panicked".to_owned());
                    msg.into()
                })
            })
            .with_ignored_flag(!present && !required)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

/// The DOM of `url` after load, and Chromium's stderr. Chromium's profile, cache and home
/// are inside `scratch`.
fn dump_dom(url: &str, scratch: &Path) -> (String, String) {
    let mut child = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--no-first-run"])
        .arg(format!("--user-data-dir={}", scratch.join("profile").display()))
        .args(["--dump-dom", url])
        .env("HOME", scratch)
        .env("XDG_CONFIG_HOME", scratch.join("config"))
        .env("XDG_CACHE_HOME", scratch.join("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).unwrap();
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).unwrap();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium exited with {status}: {}", err_reader.join().unwrap());
            break;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("chromium did not finish loading {url} in 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (reader.join().unwrap(), err_reader.join().unwrap())
}

/// The value of `attr` on the element with `id` (as Chromium serialises it).
fn attr(dom: &str, id: &str, attr: &str) -> String {
    let at = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in the page"));
    let start = dom[..at].rfind('<').unwrap();
    let tag = &dom[start..start + dom[start..].find('>').unwrap()];
    let key = format!(" {attr}=\"");
    let v = tag.find(&key).unwrap_or_else(|| panic!("#{id} has no {attr}: {tag}"));
    let rest = &tag[v + key.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// Checks a load had no console output nor uncaught error, and the script ran to its end.
fn loaded_cleanly(dom: &str, stderr: &str) {
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught")).collect();
    assert!(console.is_empty(), "console messages while loading the report:\n{}", console.join("\n"));
    assert_eq!(attr(dom, "console-errors", "data-count"), "0", "errors recorded by the page");
    assert!(dom.contains("<body data-ready=\"true\">"), "the page's script did not finish");
}

/// A report of the reference and Wasmtime over the scenarios whose id contains `filter`.
fn report(filter: &str, out: &Path) -> Value {
    let gen = Command::new(env!("CARGO_BIN_EXE_wasi-conform"))
        .args(["report", "--runtime", "reference,wasmtime", "--filter", filter, "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(gen.status.success(), "report failed: {}", String::from_utf8_lossy(&gen.stderr));
    serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
}

/// The `<aside id="detail">` element of a dumped page.
fn detail(dom: &str) -> &str {
    let detail = &dom[dom.find("<aside id=\"detail\"").unwrap()..];
    &detail[..detail.find("</aside>").unwrap()]
}

fn not_applicable_and_choices_in_headless_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    let report = report("fd_", &out);
    let results = report["results"].as_array().unwrap();
    let scenarios = report["scenarios"].as_array().unwrap();
    let page = format!("file://{}", out.join("index.html").display());

    // The not-applicable status: Wasmtime's scenarios that require a rights model.
    let wasmtime = |key: &str| {
        results
            .iter()
            .filter(|r| r["runtime"] == "wasmtime" && r[key] == "not-applicable")
            .map(|r| r["scenario"].as_str().unwrap())
            .collect::<Vec<_>>()
    };
    let by_verdict = wasmtime("verdict");
    assert!(!by_verdict.is_empty(), "Wasmtime has no rights model: some fd_ scenarios do not apply to it");
    let by_status = wasmtime("status");
    let (dom, stderr) = dump_dom(&format!("{page}#runtime=wasmtime&status=not-applicable"), tmp.path());
    loaded_cleanly(&dom, &stderr);
    assert_eq!(attr(&dom, "filter-state", "data-statuses"), "not-applicable");
    assert_eq!(attr(&dom, "filter-state", "data-visible-scenarios"), by_status.len().to_string());
    assert!(dom.contains("<input type=\"checkbox\" name=\"status\" value=\"not-applicable\" checked=\"\">"), "checked");
    assert!(dom.contains("<input type=\"checkbox\" name=\"status\" value=\"pass\">"), "pass unchecked");
    assert!(!by_status.is_empty(), "suite/expectations/wasmtime.toml lists none of them (they do not apply)");
    for id in &by_status {
        let at = dom.find(&format!("<tr data-scenario=\"{id}\"")).unwrap_or_else(|| panic!("{id}'s row"));
        let tag = &dom[at..at + dom[at..].find('>').unwrap()];
        assert!(!tag.contains("hidden"), "{id} shown: {tag}");
    }
    // The verdict filter, and the drill-down of one of them: the probe and the requirement.
    let (dom, stderr) =
        dump_dom(&format!("{page}#runtime=wasmtime&verdict=not-applicable&scenario={}", by_verdict[0]), tmp.path());
    loaded_cleanly(&dom, &stderr);
    assert_eq!(attr(&dom, "filter-state", "data-verdicts"), "not-applicable");
    assert_eq!(attr(&dom, "filter-state", "data-visible-scenarios"), by_verdict.len().to_string());
    let d = detail(&dom);
    assert!(d.contains("requires: rights"), "{d}");
    assert!(d.contains("<td>probe: rights (line "), "{d}");
    assert!(d.contains("not applicable: "), "{d}");

    // A choice scenario's drill-down says what the reference picked and why.
    let choice = scenarios.iter().find(|s| s["strength"] == "choice").expect("a choice scenario among fd_");
    let id = choice["id"].as_str().unwrap();
    let (dom, stderr) = dump_dom(&format!("{page}#scenario={id}"), tmp.path());
    loaded_cleanly(&dom, &stderr);
    let d = detail(&dom);
    assert!(d.contains("<p class=\"choice\"><strong>The reference's choice</strong>"), "{d}");
    let pick = choice["choice"].as_str().unwrap();
    let start: String = pick.chars().take(40).collect();
    assert!(d.contains(&start.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")), "{d}");
}

fn html_report_in_headless_chromium() {
    let browser = chromium();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    let report = report("path_", &out);
    let results = report["results"].as_array().unwrap();
    let scenarios = report["scenarios"].as_array().unwrap();
    let page = format!("file://{}", out.join("index.html").display());
    eprintln!("{} on {page}", browser.display());

    // Everything shown.
    let (dom, stderr) = dump_dom(&page, tmp.path());
    loaded_cleanly(&dom, &stderr);
    let matrix = &dom[dom.find("id=\"matrix-table\"").expect("matrix table")..];
    let matrix = &matrix[..matrix.find("</table>").unwrap()];
    assert_eq!(matrix.matches("<tr data-runtime=").count(), 2, "one matrix row per runtime");
    for rt in ["reference", "wasmtime"] {
        assert!(matrix.contains(&format!("<tr data-runtime=\"{rt}\"")), "{rt} row");
        assert!(!matrix.contains(&format!("<tr data-runtime=\"{rt}\" class=\"hidden\"")), "{rt} row shown");
    }
    assert_eq!(attr(&dom, "filter-state", "data-visible-scenarios"), scenarios.len().to_string());
    assert_eq!(attr(&dom, "filter-state", "data-visible-matrix-rows"), "2");
    assert_eq!(attr(&dom, "detail", "hidden"), "");

    // Wasmtime's expected failures only, one of them opened.
    let xfail: Vec<&str> = results
        .iter()
        .filter(|r| r["runtime"] == "wasmtime" && r["status"] == "expected-fail")
        .map(|r| r["scenario"].as_str().unwrap())
        .collect();
    assert!(!xfail.is_empty(), "wasmtime has known failures among the path_ scenarios");
    let (dom, stderr) =
        dump_dom(&format!("{page}#runtime=wasmtime&status=expected-fail&scenario={}", xfail[0]), tmp.path());
    loaded_cleanly(&dom, &stderr);
    assert_eq!(attr(&dom, "filter-state", "data-runtimes"), "wasmtime");
    assert_eq!(attr(&dom, "filter-state", "data-statuses"), "expected-fail");
    assert_eq!(attr(&dom, "filter-state", "data-visible-scenarios"), xfail.len().to_string());
    assert_eq!(attr(&dom, "filter-state", "data-visible-matrix-rows"), "1");
    assert!(dom.contains("<tr data-runtime=\"reference\" class=\"hidden\">"), "reference's matrix row hidden");
    assert!(dom.contains("<input type=\"checkbox\" name=\"status\" value=\"pass\">"), "pass unchecked");
    // The drill-down: expected vs observed per step, and wasmtime's reproduce command.
    let detail = detail(&dom);
    assert!(!detail.starts_with("<aside id=\"detail\" hidden"), "the drill-down is open");
    assert!(detail.contains(&format!("<h2>{}</h2>", xfail[0])), "{detail}");
    assert!(detail.contains("Expected vs observed per step"), "{detail}");
    assert!(detail.contains(&format!(
        "<code class=\"reproduce\">cargo run --release -- run --runtime wasmtime --scenario {}</code>",
        xfail[0]
    )));
    assert!(detail.contains("<td class=\"bad\">") || detail.contains("known failure"), "{detail}");

    // One function: the other functions' scenarios and matrix columns are hidden.
    let (dom, stderr) = dump_dom(&format!("{page}#function=path_open"), tmp.path());
    loaded_cleanly(&dom, &stderr);
    let path_open = scenarios.iter().filter(|s| s["function"] == "path_open").count();
    assert!(path_open > 0 && path_open < scenarios.len());
    assert_eq!(attr(&dom, "filter-state", "data-function"), "path_open");
    assert_eq!(attr(&dom, "filter-state", "data-visible-scenarios"), path_open.to_string());
    assert!(dom.contains("<th class=\"fn hidden\" data-function=\"path_rename\">"), "other columns hidden");
    assert!(dom.contains("<th class=\"fn\" data-function=\"path_open\">"), "path_open column shown");

    // The verdict filter: Wasmtime's scenarios whose verdict is `fail`.
    let failing = results.iter().filter(|r| r["runtime"] == "wasmtime" && r["verdict"] == "fail").count();
    let (dom, stderr) = dump_dom(&format!("{page}#runtime=wasmtime&verdict=fail"), tmp.path());
    loaded_cleanly(&dom, &stderr);
    assert_eq!(attr(&dom, "filter-state", "data-verdicts"), "fail");
    assert_eq!(attr(&dom, "filter-state", "data-visible-scenarios"), failing.to_string());

    // junit.xml is well-formed XML (Chromium's XML parser reports errors as <parsererror>).
    let (dom, _) = dump_dom(&format!("file://{}", out.join("junit.xml").display()), tmp.path());
    assert!(
        !dom.contains("parsererror"),
        "junit.xml is not well-formed:\n{}",
        dom.chars().take(2000).collect::<String>()
    );
    assert!(dom.contains("testsuites"), "{}", dom.chars().take(2000).collect::<String>());
}
