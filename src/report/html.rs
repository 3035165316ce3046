//! `index.html`: the report as one self-contained page (inline CSS and script, no request
//! at view time). The tables are rendered here, so the page reads without its script; the
//! script (`assets/report.js`) adds the filters (runtime / function / status, kept in the
//! URL fragment) and the drill-down into a scenario (expected vs observed per step per
//! runtime, each runtime's message and reproduce command) from the report's JSON, which is
//! embedded in a `<script type="application/json">` element.
//!
//! Every text from the model goes through [`xml`]; the drill-down builds its elements
//! with `textContent`, never markup.
//!
//! A small script in `<head>` records uncaught errors and `console.error` calls into
//! `#console-errors` (its `data-count`), so a headless browser's DOM dump shows them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use wasi_conform_suite::expectations::Status;

use super::denial::{self, Kind};
use super::escape::{json_in_script, xml};
use super::figures;
use super::markdown::HEADLINE;
use super::model::{status_label, Report, ResultRow, ScenarioInfo, Tally, TestRow};
use super::REGENERATE;

const CSS: &str = include_str!("assets/report.css");
const SCRIPT: &str = include_str!("assets/report.js");
/// Runs before anything else on the page: records errors into `#console-errors`.
const ERROR_HOOK: &str = r#"(function () {
  var errors = [];
  function flush() {
    var el = document.getElementById("console-errors");
    if (el && errors.length) { el.textContent = errors.join("\n"); el.dataset.count = String(errors.length); }
  }
  function record(msg) { errors.push(String(msg)); flush(); }
  window.addEventListener("error", function (e) { record("error: " + e.message); });
  window.addEventListener("unhandledrejection", function (e) { record("unhandled rejection: " + e.reason); });
  var original = console.error;
  console.error = function () {
    record("console.error: " + Array.prototype.join.call(arguments, " "));
    original.apply(console, arguments);
  };
  document.addEventListener("DOMContentLoaded", flush);
})();"#;

/// The whole page.
pub fn render(r: &Report) -> String {
    let json = serde_json::to_string(r).expect("a report always serialises");
    let mut s = String::with_capacity(json.len() * 2);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>WASI preview1 runtime compatibility — {}</title>\n<script>{ERROR_HOOK}</script>\n<style>\n{CSS}</style>\n</head>\n<body>\n",
        xml(&r.meta.date_utc)
    );
    header(&mut s, r);
    filters(&mut s, r);
    runtimes(&mut s, r);
    matrix(&mut s, r);
    changes(&mut s, r);
    scenario_table(&mut s, r);
    denial(&mut s, r);
    divergences(&mut s, r);
    wasi_testsuite(&mut s, r);
    super::programs_section::html(&mut s, r);
    let _ = write!(
        s,
        "<aside id=\"detail\" hidden></aside>\n<pre id=\"console-errors\" data-count=\"0\"></pre>\n\
         <script type=\"application/json\" id=\"report-data\">{}</script>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n",
        json_in_script(&json)
    );
    s
}

fn header(s: &mut String, r: &Report) {
    let m = &r.meta;
    let commit = match (&m.git_commit, m.git_dirty) {
        (Some(c), Some(true)) => format!(", commit <code>{}</code> with uncommitted changes", xml(c)),
        (Some(c), _) => format!(", commit <code>{}</code>", xml(c)),
        (None, _) => String::new(),
    };
    let filter =
        m.filter.as_ref().map(|f| format!("; only scenarios matching <code>{}</code>", xml(f))).unwrap_or_default();
    let _ = write!(
        s,
        "<header>\n<h1>WASI preview1 runtime compatibility</h1>\n<p class=\"meta\">{} scenarios × {} runtimes; \
         generated {} UTC on {}/{} by wasi-conform {}{commit}{filter}; the run took {:.1} s. \
         Regenerate: <code>{}</code>.</p>\n<nav><a href=\"#runtimes\">runtimes</a><a href=\"#matrix\">matrix</a>{}\
         <a href=\"#scenarios\">scenarios</a><a href=\"#denial\">capability denial</a><a href=\"#divergences\">divergences</a>\
         <a href=\"#wasi-testsuite\">wasi-testsuite</a></nav>\n</header>\n",
        r.scenarios.len(),
        r.runtimes.len(),
        xml(m.date_utc.trim_end_matches('Z').replace('T', " ").as_str()),
        xml(&m.host.os),
        xml(&m.host.arch),
        xml(&m.project_version),
        m.elapsed_s,
        xml(REGENERATE),
        if r.baseline.is_some() { "<a href=\"#changes\">changes</a>" } else { "" },
    );
}

fn filters(s: &mut String, r: &Report) {
    s.push_str("<section id=\"filters\">\n<fieldset><legend>runtime</legend>");
    for rt in &r.runtimes {
        let _ = write!(
            s,
            "<label><input type=\"checkbox\" name=\"runtime\" value=\"{0}\" checked> {0}</label>",
            xml(&rt.name)
        );
    }
    s.push_str("</fieldset>\n<fieldset><legend>function</legend><select id=\"function-filter\"><option value=\"\">all</option>");
    for f in &r.functions {
        let _ = write!(s, "<option value=\"{0}\">{0}</option>", xml(f));
    }
    s.push_str("</select></fieldset>\n<fieldset><legend>status</legend>");
    for st in Report::STATUSES {
        let _ = write!(
            s,
            "<label class=\"st-{0}\" title=\"status {0}\"><input type=\"checkbox\" name=\"status\" value=\"{0}\" checked> {1}</label>",
            st.as_str(),
            status_label(st)
        );
    }
    s.push_str("</fieldset>\n<fieldset><legend>verdict</legend>");
    for v in VERDICTS {
        let _ = write!(s, "<label><input type=\"checkbox\" name=\"verdict\" value=\"{v}\" checked> {v}</label>");
    }
    s.push_str(
        "</fieldset>\n<button type=\"button\" id=\"filter-reset\">reset</button>\
         <output id=\"filter-state\"></output>\n</section>\n",
    );
}

/// The verdict classes (`suite::verdict::Verdict::kind`, and `error` when a scenario could
/// not be judged), for the verdict filter.
const VERDICTS: [&str; 7] = ["pass", "fail", "escape", "timeout", "crash", "not-applicable", "error"];

fn bar(t: Tally) -> String {
    let pct = t.ratio().unwrap_or(0.0) * 100.0;
    format!("<span class=\"bar\" title=\"{pct:.1}%\"><span style=\"width:{pct:.1}%\"></span></span> {pct:.1}%")
}

/// `passed / applicable` and a bar, or `–` when nothing applied.
fn share(t: Tally) -> String {
    if t.applicable == 0 {
        return "<td class=\"num\">–</td>".to_owned();
    }
    format!("<td class=\"num\">{} / {} {}</td>", t.passed, t.applicable, bar(t))
}

fn runtimes(s: &mut String, r: &Report) {
    s.push_str("<section id=\"runtimes\">\n<h2>Runtimes</h2>\n<table id=\"runtime-table\"><thead><tr><th>runtime</th><th>version</th>");
    for h in HEADLINE {
        let _ = write!(s, "<th>{}</th>", xml(h));
    }
    s.push_str("<th>expectation file</th><th>time</th></tr></thead><tbody>\n");
    for rt in &r.runtimes {
        let _ = write!(
            s,
            "<tr data-runtime=\"{0}\"><th>{0}</th><td class=\"mono\">{1}</td>",
            xml(&rt.name),
            xml(&rt.version)
        );
        let Some(f) = &rt.figures else {
            let _ = writeln!(
                s,
                "<td colspan=\"{}\">not available: {}</td></tr>",
                HEADLINE.len() + 2,
                xml(rt.reason.as_deref().unwrap_or(""))
            );
            continue;
        };
        let counts = r.status_counts(&rt.name);
        let breakdown: Vec<String> = [Status::Fail, Status::UnexpectedPass, Status::Error]
            .iter()
            .map(|st| format!("{}: {}", status_label(*st), counts.get(st.as_str()).copied().unwrap_or(0)))
            .collect();
        let k = f.known_failures;
        let _ = writeln!(
            s,
            "{}{}{}<td class=\"num\">{}</td><td class=\"num\" title=\"{} scenarios; {} causes, {} of them entries without a cause\">{} / {}</td>\
             <td class=\"num{}\" title=\"{}\">{}</td><td><code>{}</code></td><td class=\"num\">{:.1} s</td></tr>",
            share(f.conformance),
            share(f.must),
            share(f.choices),
            f.not_applicable,
            k.scenarios,
            k.causes,
            k.without_cause,
            k.scenarios,
            k.causes,
            if f.unexpected > 0 { " st-fail" } else { "" },
            xml(&breakdown.join(", ")),
            f.unexpected,
            xml(rt.expectations.as_deref().unwrap_or("none")),
            rt.elapsed_s
        );
    }
    s.push_str("</tbody></table>\n<p id=\"legend\">");
    s.push_str(&legend_html(r));
    s.push_str("</p>\n");
    causes(s, r);
    s.push_str("</section>\n");
}

/// The legend ([`super::markdown::LEGEND`]) and the runtimes with entries without a
/// `cause`, as HTML: the same words as `summary.md`.
fn legend_html(r: &Report) -> String {
    let mut out = inline_markdown(super::markdown::LEGEND);
    let uncaused: Vec<String> =
        super::markdown::uncaused(r).into_iter().map(|(name, n, of)| format!("{} {n} of {of}", xml(name))).collect();
    if !uncaused.is_empty() {
        let _ = write!(
            out,
            "</p>\n<p id=\"uncaused\">Known failures whose expectation entry names no <code>cause</code> count as a cause each: {}.",
            uncaused.join(", ")
        );
    }
    out
}

/// Text with `**bold**` and `` `code` `` spans as HTML, everything else escaped.
fn inline_markdown(text: &str) -> String {
    let (mut out, mut bold, mut code) = (String::new(), false, false);
    let mut rest = text;
    while let Some(i) = rest.find(['*', '`']) {
        out.push_str(&xml(&rest[..i]));
        if rest[i..].starts_with('`') {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
            rest = &rest[i + 1..];
        } else if rest[i..].starts_with("**") && !code {
            out.push_str(if bold { "</strong>" } else { "<strong>" });
            bold = !bold;
            rest = &rest[i + 2..];
        } else {
            out.push('*');
            rest = &rest[i + 1..];
        }
    }
    out.push_str(&xml(rest));
    out
}

/// Per runtime, the known failures of conformance scenarios by cause, each opening a list.
fn causes(s: &mut String, r: &Report) {
    s.push_str("<h3>Known failures by cause</h3>\n<table id=\"cause-table\"><thead><tr><th>runtime</th><th>known failures</th><th>causes</th></tr></thead><tbody>\n");
    for rt in r.runtimes.iter().filter(|x| x.available) {
        let (named, without) = figures::by_cause(r, &rt.name);
        let total = named.values().map(Vec::len).sum::<usize>() + without.len();
        let mut parts: Vec<String> = named
            .iter()
            .map(|(c, ids)| {
                let links: Vec<String> = ids.iter().map(|id| scenario_link(id)).collect();
                format!(
                    "<details data-cause=\"{0}\"><summary><code>{0}</code> ({1})</summary>{2}</details>",
                    xml(c),
                    ids.len(),
                    links.join(", ")
                )
            })
            .collect();
        if !without.is_empty() {
            let links: Vec<String> = without.iter().map(|id| scenario_link(id)).collect();
            parts.push(format!(
                "<details class=\"no-cause\"><summary>{} without a <code>cause</code></summary>{}</details>",
                without.len(),
                links.join(", ")
            ));
        }
        let _ = writeln!(
            s,
            "<tr data-runtime=\"{0}\"><th>{0}</th><td class=\"num\">{total}</td><td>{1}</td></tr>",
            xml(&rt.name),
            if parts.is_empty() { "–".to_owned() } else { parts.join("") }
        );
    }
    s.push_str("</tbody></table>\n");
}

/// Red (0%) to green (100%).
fn ratio_colour(ratio: f64) -> String {
    format!("hsl({:.0}, 65%, 75%)", 120.0 * ratio.clamp(0.0, 1.0))
}

fn matrix(s: &mut String, r: &Report) {
    let tallies = r.tallies();
    s.push_str(
        "<section id=\"matrix\">\n<h2>Matrix: runtime × function</h2>\n<p>Conformance scenarios (<code>must</code>, \
        <code>should</code>, <code>de-facto</code>) passed / applicable per function, and in all (the runtime table's \
        conformance); <code>choice</code> and not-applicable results are left out. The colour goes from red (none pass) \
        to green (all pass). A cell selects that runtime and function below.</p>\n\
        <table id=\"matrix-table\"><thead><tr><th>runtime</th><th>conformance</th>",
    );
    for f in &r.functions {
        let _ = write!(s, "<th class=\"fn\" data-function=\"{0}\">{0}</th>", xml(f));
    }
    s.push_str("</tr></thead><tbody>\n");
    for rt in &r.runtimes {
        let _ = write!(s, "<tr data-runtime=\"{0}\"><th>{0}</th>", xml(&rt.name));
        let Some(f) = &rt.figures else {
            let _ = writeln!(
                s,
                "<td colspan=\"{}\" class=\"st-none\" style=\"text-align:left\">not available: {}</td></tr>",
                r.functions.len() + 1,
                xml(rt.reason.as_deref().unwrap_or(""))
            );
            continue;
        };
        match f.conformance.ratio() {
            Some(q) => {
                let _ = write!(
                    s,
                    "<td class=\"total\" style=\"background:{}\" title=\"{}: {} of {} conformance scenarios pass\">{:.1}%</td>",
                    ratio_colour(q),
                    xml(&rt.name),
                    f.conformance.passed,
                    f.conformance.applicable,
                    100.0 * q
                );
            }
            None => s.push_str("<td class=\"total st-none\">–</td>"),
        }
        for f in &r.functions {
            match tallies.get(&(rt.name.as_str(), f.as_str())).and_then(|t| t.ratio().map(|q| (t, q))) {
                Some((t, q)) => {
                    let _ = write!(
                        s,
                        "<td data-function=\"{f}\" style=\"background:{}\" title=\"{rt}, {f}: {} of {} pass\">\
                         <a href=\"#runtime={rt}&amp;function={f}\">{}/{}</a></td>",
                        ratio_colour(q),
                        t.passed,
                        t.applicable,
                        t.passed,
                        t.applicable,
                        f = xml(f),
                        rt = xml(&rt.name)
                    );
                }
                None => {
                    let _ = write!(s, "<td data-function=\"{}\" class=\"st-none\">–</td>", xml(f));
                }
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n</section>\n");
}

fn scenario_link(id: &str) -> String {
    format!("<a href=\"#scenario={0}\">{0}</a>", xml(id))
}

fn changes(s: &mut String, r: &Report) {
    let Some(d) = &r.baseline else { return };
    let commit = d.git_commit.as_deref().map(|c| format!(", commit <code>{}</code>", xml(c))).unwrap_or_default();
    let _ = write!(
        s,
        "<section id=\"changes\">\n<h2>Changes since the baseline</h2>\n<p>Against the report of {} (wasi-conform {}{commit}). \
         Newly failing: passed then, not now; newly passing: the reverse.</p>\n",
        xml(&d.date_utc),
        xml(&d.project_version)
    );
    if d.is_empty() {
        s.push_str("<p id=\"no-changes\">No change.</p>\n</section>\n");
        return;
    }
    for (what, id, list) in [
        ("Scenarios added", "scenarios-added", &d.scenarios_added),
        ("Scenarios removed", "scenarios-removed", &d.scenarios_removed),
    ] {
        if !list.is_empty() {
            let items: Vec<String> = list.iter().map(|x| format!("<code>{}</code>", xml(x))).collect();
            let _ = writeln!(s, "<p id=\"{id}\">{what} ({}): {}</p>", list.len(), items.join(", "));
        }
    }
    s.push_str("<table id=\"changes-table\"><thead><tr><th>runtime</th><th>newly failing</th><th>newly passing</th></tr></thead><tbody>\n");
    for rt in &d.runtimes {
        let list = |v: &[super::model::Change]| {
            if v.is_empty() {
                "–".to_owned()
            } else {
                v.iter()
                    .map(|c| format!("{} ({} → {})", scenario_link(&c.scenario), xml(&c.before), xml(&c.now)))
                    .collect::<Vec<_>>()
                    .join("<br>")
            }
        };
        let note = match rt.presence.as_str() {
            "new" => " (new)",
            "gone" => " (no results now)",
            _ => "",
        };
        let _ = writeln!(
            s,
            "<tr data-runtime=\"{0}\"><th>{0}{note}</th><td class=\"newly-failing\">{1}</td><td class=\"newly-passing\">{2}</td></tr>",
            xml(&rt.runtime),
            list(&rt.newly_failing),
            list(&rt.newly_passing)
        );
    }
    s.push_str("</tbody></table>\n</section>\n");
}

/// A status's mark in the tables (`·` for a status this version does not know, and for
/// the wasi-testsuite's `not-available`).
fn glyph(status: &str) -> &'static str {
    match Status::ALL.into_iter().find(|s| s.as_str() == status) {
        Some(Status::Pass) => "✓",
        Some(Status::ExpectedFail) => "×",
        Some(Status::Fail) => "✗",
        Some(Status::UnexpectedPass) => "!",
        Some(Status::NotApplicable) => "○",
        Some(Status::Error) => "?",
        Some(Status::NotAvailable) | None => "·",
    }
}

fn status_cell(x: &ResultRow) -> String {
    let cause = x.cause.as_deref().map(|c| format!("; cause {}", xml(c))).unwrap_or_default();
    let data_cause = x.cause.as_deref().map(|c| format!(" data-cause=\"{}\"", xml(c))).unwrap_or_default();
    format!(
        "<td class=\"st st-{0}\" data-runtime=\"{1}\" data-status=\"{0}\" data-verdict=\"{2}\"{data_cause} title=\"{1}: {0} (verdict {2}){cause}\">{3}</td>",
        xml(&x.status),
        xml(&x.runtime),
        xml(&x.verdict),
        glyph(&x.status)
    )
}

/// The strength cell: `choice` with the reference's pick as its title.
fn strength_cell(sc: &ScenarioInfo) -> String {
    match &sc.choice {
        Some(why) => format!(
            "<td class=\"strength strength-{0}\" title=\"the reference's choice: {1}\">{0}</td>",
            xml(&sc.strength),
            xml(why)
        ),
        None => format!("<td class=\"strength strength-{0}\">{0}</td>", xml(&sc.strength)),
    }
}

/// The causes of a scenario's expected failures, one line per runtime that has one.
fn causes_cell(sc: &ScenarioInfo, available: &[&str], index: &BTreeMap<(&str, &str), &ResultRow>) -> String {
    let lines: Vec<String> = available
        .iter()
        .filter_map(|rt| index.get(&(*rt, sc.id.as_str())))
        .filter(|x| x.status() == Some(Status::ExpectedFail))
        .map(|x| {
            format!(
                "<div data-runtime=\"{0}\">{0}: {1}</div>",
                xml(&x.runtime),
                x.cause.as_deref().map(|c| format!("<code>{}</code>", xml(c))).unwrap_or_else(|| "–".to_owned())
            )
        })
        .collect();
    format!("<td class=\"causes\">{}</td>", lines.join(""))
}

fn scenario_table(s: &mut String, r: &Report) {
    let index = r.result_index();
    let available: Vec<&str> = r.runtimes.iter().filter(|x| x.available).map(|x| x.name.as_str()).collect();
    s.push_str("<section id=\"scenarios\">\n<h2>Scenarios</h2>\n<p class=\"legend\">");
    for st in Report::STATUSES {
        let _ = write!(s, "<span class=\"st-{}\">{} {}</span>", st.as_str(), glyph(st.as_str()), status_label(st));
    }
    s.push_str(
        "</p>\n<p>A scenario's name opens it: the steps as written, expected vs observed per step and \
        runtime, each runtime's message and the command that reproduces it. A <code>choice</code> scenario \
        (hover its strength for the reference's pick) is agreement with the reference, not conformance. \
        The last column names the root cause (<code>cause</code>) of each known failure.</p>\n\
        <table id=\"scenario-table\"><thead><tr><th>scenario</th><th>strength</th>",
    );
    for rt in &available {
        let _ = write!(s, "<th data-runtime=\"{0}\">{0}</th>", xml(rt));
    }
    s.push_str("<th>known-failure causes</th></tr></thead><tbody>\n");
    for sc in &r.scenarios {
        let _ = write!(
            s,
            "<tr data-scenario=\"{}\" data-function=\"{}\" data-strength=\"{}\"><td>{}<br><small>{}</small></td>{}",
            xml(&sc.id),
            xml(&sc.function),
            xml(&sc.strength),
            scenario_link(&sc.id),
            xml(&sc.summary),
            strength_cell(sc)
        );
        for rt in &available {
            match index.get(&(*rt, sc.id.as_str())) {
                Some(x) => s.push_str(&status_cell(x)),
                None => {
                    let _ = write!(s, "<td class=\"st st-none\" data-runtime=\"{}\">·</td>", xml(rt));
                }
            }
        }
        s.push_str(&causes_cell(sc, &available, &index));
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n</section>\n");
}

/// A result's first difference: the message's first line after a known-failure reason,
/// with the indented line under it (`errno: expected …, observed …`) when there is one.
fn first_difference(x: &ResultRow) -> String {
    let mut lines = x.message.lines().skip_while(|l| l.starts_with("known failure: "));
    let first = lines.next().unwrap_or_else(|| x.message.lines().next().unwrap_or(""));
    match lines.next() {
        Some(detail) if detail.starts_with(' ') => format!("{first} — {}", detail.trim()),
        Some(_) | None => first.to_owned(),
    }
}

fn badge(x: &ResultRow) -> String {
    format!(
        "<a href=\"#scenario={0}\" class=\"badge st-{1}{4}\" data-runtime=\"{2}\" title=\"{0} on {2}: {1} (verdict {3})\"></a>",
        xml(&x.scenario),
        xml(&x.status),
        xml(&x.runtime),
        xml(&x.verdict),
        if x.verdict == "escape" { " escape" } else { "" }
    )
}

fn legend(r: &Report) -> String {
    let names: Vec<String> = r
        .runtimes
        .iter()
        .filter(|x| x.available)
        .map(|x| format!("<span data-runtime=\"{0}\">{0}</span>", xml(&x.name)))
        .collect();
    format!("<p class=\"legend\">Squares, in this order: {}</p>\n", names.join(" "))
}

fn denial(s: &mut String, r: &Report) {
    let index = r.result_index();
    let available: Vec<&str> = r.runtimes.iter().filter(|x| x.available).map(|x| x.name.as_str()).collect();
    let mut cells: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for sc in &r.scenarios {
        if let Some(d) = &sc.denial {
            cells.insert((d.vector.as_str(), d.column.as_str()), sc.id.as_str());
        }
    }
    let _ = write!(
        s,
        "<section id=\"denial\">\n<h2>Capability denial</h2>\n<p>The generated <code>deny-*</code> scenarios: every escape \
         vector × every path argument of every path-taking function ({} scenarios in this report). A pass: the runtime \
         refused the escape as the scenario says and nothing outside the preopen changed.</p>\n\
         <h3 id=\"escapes\">Escapes (security)</h3>\n<p>An escape: the runtime changed something outside its preopens \
         (verdict <code>escape</code>).</p>\n",
        cells.len()
    );
    let summaries: Vec<_> =
        r.runtimes.iter().filter(|x| x.available).map(|rt| (rt, denial::summary(r, &rt.name))).collect();
    let escapes: Vec<&ResultRow> =
        summaries.iter().flat_map(|(_, d)| d.failures.get(&Kind::Escape).into_iter().flatten().copied()).collect();
    if escapes.is_empty() {
        s.push_str("<p id=\"no-escapes\">None: no runtime changed anything outside its preopens.</p>\n");
    } else {
        s.push_str(
            "<table id=\"escape-table\"><thead><tr><th>runtime</th><th>scenario</th><th>status</th><th>what changed</th></tr></thead><tbody>\n",
        );
        for x in escapes {
            let _ = writeln!(
                s,
                "<tr data-runtime=\"{0}\"><th>{0}</th><td>{1}</td><td class=\"st-{2}\">{2}</td><td class=\"mono\">{3}</td></tr>",
                xml(&x.runtime),
                scenario_link(&x.scenario),
                xml(&x.status),
                xml(denial::escape_line(x))
            );
        }
        s.push_str("</tbody></table>\n");
    }
    s.push_str(
        "<h3 id=\"denial-other\">Over-refusals and errno differences</h3>\n<p>An over-refusal: a call the scenario expects \
         to succeed was refused. Refused with another errno: the runtime refused, but with an errno the scenario does not \
         accept (the refusal itself is right). Not refused: the runtime let the path through, yet nothing outside its \
         preopens changed. Each count opens its list below.</p>\n\
         <table id=\"denial-summary\"><thead><tr><th>runtime</th><th>denials passed</th>",
    );
    for k in Kind::FAILURES {
        let _ = write!(s, "<th class=\"denial-{}\">{}</th>", k.slug(), xml(k.title()));
    }
    s.push_str("<th>vectors with failures</th></tr></thead><tbody>\n");
    for (rt, d) in &summaries {
        let _ = write!(
            s,
            "<tr data-runtime=\"{0}\"><th>{0}</th><td class=\"num\">{1} / {2}</td>",
            xml(&rt.name),
            d.tally.passed,
            d.tally.applicable
        );
        for k in Kind::FAILURES {
            let n = d.count(k);
            let warn = if k == Kind::Escape && n > 0 { " st-fail" } else { "" };
            match n {
                0 => {
                    let _ = write!(s, "<td class=\"num{warn}\" data-kind=\"{}\">0</td>", k.slug());
                }
                _ => {
                    let _ = write!(
                        s,
                        "<td class=\"num{warn}\" data-kind=\"{0}\"><a href=\"#denial-{0}\">{1}</a></td>",
                        k.slug(),
                        n
                    );
                }
            }
        }
        let vectors: Vec<String> =
            d.failing_vectors.iter().map(|(v, n)| format!("<code>{}</code> ({n})", xml(v))).collect();
        let _ = writeln!(s, "<td>{}</td></tr>", if vectors.is_empty() { "–".to_owned() } else { vectors.join(", ") });
    }
    s.push_str("</tbody></table>\n");
    for k in Kind::FAILURES {
        let rows: Vec<&ResultRow> =
            summaries.iter().flat_map(|(_, d)| d.failures.get(&k).into_iter().flatten().copied()).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = write!(
            s,
            "<details id=\"denial-{}\" class=\"denial-list\"><summary>{}: {} results</summary><ul>",
            k.slug(),
            xml(k.title()),
            rows.len()
        );
        for x in rows {
            let _ = write!(
                s,
                "<li data-runtime=\"{0}\">{0}: {1} <small>{2}</small></li>",
                xml(&x.runtime),
                scenario_link(&x.scenario),
                xml(&first_difference(x))
            );
        }
        s.push_str("</ul></details>\n");
    }
    let _ = write!(
        s,
        "<p>The matrix: each cell has one square per runtime (outlined red for an escape); a square opens the scenario.</p>\n{}",
        legend(r)
    );
    s.push_str("<table id=\"denial-table\"><thead><tr><th>vector</th>");
    for c in &r.denial.columns {
        let function = c.split(' ').next().unwrap_or(c);
        let _ = write!(s, "<th data-column-function=\"{}\">{}</th>", xml(function), xml(c));
    }
    s.push_str("</tr></thead><tbody>\n");
    for v in &r.denial.vectors {
        let _ = write!(s, "<tr><th title=\"{}\">{}</th>", xml(&v.title), xml(&v.name));
        for c in &r.denial.columns {
            let function = c.split(' ').next().unwrap_or(c);
            let _ = write!(s, "<td data-column-function=\"{}\">", xml(function));
            if let Some(id) = cells.get(&(v.name.as_str(), c.as_str())) {
                for rt in &available {
                    if let Some(x) = index.get(&(*rt, *id)) {
                        s.push_str(&badge(x));
                    }
                }
            }
            s.push_str("</td>");
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n<p>Vectors: ");
    let titles: Vec<String> =
        r.denial.vectors.iter().map(|v| format!("<code>{}</code>: {}", xml(&v.name), xml(&v.title))).collect();
    s.push_str(&titles.join("; "));
    s.push_str(".</p>\n</section>\n");
}

fn divergences(s: &mut String, r: &Report) {
    let index = r.result_index();
    let available: Vec<&str> = r.runtimes.iter().filter(|x| x.available).map(|x| x.name.as_str()).collect();
    let _ = write!(
        s,
        "<section id=\"divergences\">\n<h2>Divergences</h2>\n<p>Known divergences between runtimes \
         (<code>suite/divergences.toml</code>) with the scenarios citing each.</p>\n{}",
        legend(r)
    );
    s.push_str("<table id=\"divergence-table\"><thead><tr><th>case</th><th>title and links</th><th>scenarios citing it</th></tr></thead><tbody>\n");
    for c in &r.divergences.cases {
        let links: Vec<String> = c.links.iter().map(|l| format!("<a href=\"{0}\">{0}</a>", xml(l))).collect();
        let _ = write!(
            s,
            "<tr><th>{}</th><td>{}<br><small>{}</small></td><td>",
            xml(&c.id),
            xml(&c.title),
            links.join(" ")
        );
        for id in &c.cited_by {
            let _ = write!(s, "<div>{} ", scenario_link(id));
            for rt in &available {
                if let Some(x) = index.get(&(*rt, id.as_str())) {
                    s.push_str(&badge(x));
                }
            }
            s.push_str("</div>");
        }
        if c.cited_by.is_empty() {
            s.push_str("none");
        }
        s.push_str("</td></tr>\n");
    }
    s.push_str("</tbody></table>\n<h3>Fuzzing findings</h3>\n");
    match &r.divergences.findings {
        None => s.push_str("<p id=\"findings-none\">No fuzzing findings recorded (<code>fuzz/findings.json</code> does not exist).</p>\n"),
        Some(f) if f.is_empty() => s.push_str("<p id=\"findings-none\"><code>fuzz/findings.json</code> lists no finding.</p>\n"),
        Some(f) => {
            s.push_str("<table id=\"findings-table\"><thead><tr><th>function</th><th>runtimes</th><th>expected</th><th>observed</th>\
                <th>count</th><th>scenario</th><th>explanation</th><th>signature</th></tr></thead><tbody>\n");
            for x in f {
                let _ = writeln!(
                    s,
                    "<tr><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"num\">{}</td>\
                     <td>{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
                    xml(&x.function),
                    xml(&x.runtimes.join(", ")),
                    xml(&x.expected),
                    xml(&x.observed),
                    x.count,
                    x.scenario.as_deref().map(|p| format!("<code>{}</code>", xml(p))).unwrap_or_else(|| "–".into()),
                    xml(&x.explanation),
                    xml(&x.signature)
                );
            }
            s.push_str("</tbody></table>\n");
        }
    }
    s.push_str("</section>\n");
}

fn wasi_testsuite(s: &mut String, r: &Report) {
    s.push_str("<section id=\"wasi-testsuite\">\n<h2>wasi-testsuite</h2>\n");
    let Some(w) = &r.wasi_testsuite else {
        s.push_str("<p>No wasi-testsuite directory was run for this report (<code>wasi-conform report --wasi-testsuite DIR</code>).</p>\n</section>\n");
        return;
    };
    let mut runtimes: Vec<&str> = Vec::new();
    let mut tests: Vec<&str> = Vec::new();
    let mut cells: BTreeMap<(&str, &str), &TestRow> = BTreeMap::new();
    for x in &w.results {
        if !runtimes.contains(&x.runtime.as_str()) {
            runtimes.push(&x.runtime);
        }
        if !tests.contains(&x.test.as_str()) {
            tests.push(&x.test);
        }
        cells.insert((&x.runtime, &x.test), x);
    }
    let _ = write!(
        s,
        "<p>Tests of <code>{}</code> (wasi-testsuite format) through the same adapters. Hover a cell for its message.</p>\n\
         <table id=\"wasi-testsuite-table\"><thead><tr><th>test</th>",
        xml(&w.dir)
    );
    for rt in &runtimes {
        let _ = write!(s, "<th data-runtime=\"{0}\">{0}</th>", xml(rt));
    }
    s.push_str("</tr></thead><tbody>\n");
    for t in &tests {
        let _ = write!(s, "<tr><td class=\"mono\">{}</td>", xml(t));
        for rt in &runtimes {
            match cells.get(&(*rt, *t)) {
                Some(x) => {
                    let _ = write!(
                        s,
                        "<td class=\"st st-{0}\" data-runtime=\"{1}\" title=\"{2}\n{3}\">{4}</td>",
                        xml(&x.status),
                        xml(rt),
                        xml(&x.message),
                        xml(&x.reproduce),
                        glyph(&x.status)
                    );
                }
                None => {
                    let _ = write!(s, "<td class=\"st st-none\" data-runtime=\"{}\">·</td>", xml(rt));
                }
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::sample;

    #[test]
    fn text_is_escaped_and_data_cannot_close_its_script() {
        let h = render(&sample());
        assert!(h.contains("path_open/&lt;b&amp;c&gt;"));
        assert!(!h.contains("path_open/<b&c>"));
        assert!(h.contains("summary of path_open/a with &lt;tag&gt; &amp; &quot;quotes&quot; | pipe"));
        // The crash message's `</script>` is only in the JSON, escaped.
        let data_start = h.find("id=\"report-data\">").unwrap();
        let data_end = data_start + h[data_start..].find("</script>").unwrap();
        let data = &h[data_start + "id=\"report-data\">".len()..data_end];
        let back: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!(back["results"][7]["message"], "runtime crash: ]]> </script> \u{1} bad");
        assert_eq!(h.matches("<script").count(), 3, "error hook, data, page script");
    }

    #[test]
    fn matrix_has_a_row_per_runtime_and_coloured_ratios() {
        let h = render(&sample());
        let start = h.find("<table id=\"matrix-table\">").unwrap();
        let table = &h[start..start + h[start..].find("</table>").unwrap()];
        assert_eq!(table.matches("<tr data-runtime=").count(), 3);
        assert!(table.contains("<tr data-runtime=\"node\"><th>node</th><td colspan=\"6\" class=\"st-none\" style=\"text-align:left\">not available: `node` not found on PATH &amp; friends</td></tr>"), "{table}");
        // The row's conformance: 1 of 3.
        assert!(table.contains("title=\"wasmtime: 1 of 3 conformance scenarios pass\">33.3%</td>"), "{table}");
        // wasmtime path_open: 1 of 2 → half way between red and green.
        assert!(
            table.contains("style=\"background:hsl(60, 65%, 75%)\" title=\"wasmtime, path_open: 1 of 2 pass\""),
            "{table}"
        );
        assert!(table.contains("hsl(120, 65%, 75%)"));
    }

    #[test]
    fn runtime_table_has_the_headline_figures_and_the_legend() {
        let h = render(&sample());
        let start = h.find("<table id=\"runtime-table\">").unwrap();
        let table = &h[start..start + h[start..].find("</table>").unwrap()];
        assert!(table.contains("<th>agrees with the reference&#39;s choices</th><th>not applicable</th>"), "{table}");
        let wasmtime = &table[table.find("<tr data-runtime=\"wasmtime\">").unwrap()..];
        let wasmtime = &wasmtime[..wasmtime.find("</tr>").unwrap()];
        assert!(wasmtime.contains("<td class=\"num\">1 / 3 <span class=\"bar\""), "{wasmtime}");
        assert!(wasmtime.contains("<td class=\"num\">0 / 1 <span class=\"bar\""), "choices: {wasmtime}");
        assert!(wasmtime.contains("<td class=\"num\">1</td>"), "not applicable: {wasmtime}");
        assert!(wasmtime.contains(">1 / 1</td>"), "known failures: {wasmtime}");
        assert!(
            wasmtime.contains(
                "<td class=\"num st-fail\" title=\"unexpected failure: 1, unexpected pass: 0, error: 0\">1</td>"
            ),
            "{wasmtime}"
        );
        assert!(
            h.contains("<p id=\"legend\"><strong>Conformance</strong>: scenarios passed among the <code>must</code>")
        );
        assert!(h.contains("(<code>suite/expectations/&lt;runtime&gt;.toml</code>)"));
        assert!(
            h.contains("<details data-cause=\"no-rights-model\"><summary><code>no-rights-model</code> (1)</summary>")
        );
        assert!(!h.contains("id=\"uncaused\""));
    }

    #[test]
    fn scenario_rows_show_strength_choice_and_causes() {
        let h = render(&sample());
        assert!(h.contains(
            "<td class=\"strength strength-choice\" title=\"the reference's choice: the reference fills every iovec &lt;in order&gt; &amp; says why\">choice</td>"
        ), "{h}");
        assert!(h.contains("<td class=\"strength strength-must\">must</td>"));
        assert!(h.contains("data-status=\"expected-fail\" data-verdict=\"fail\" data-cause=\"no-rights-model\" title=\"wasmtime: expected-fail (verdict fail); cause no-rights-model\">×</td>"), "{h}");
        assert!(h.contains(
            "<td class=\"causes\"><div data-runtime=\"wasmtime\">wasmtime: <code>no-rights-model</code></div></td>"
        ));
        assert!(h.contains("<td class=\"st st-not-applicable\" data-runtime=\"wasmtime\" data-status=\"not-applicable\" data-verdict=\"not-applicable\""));
        assert!(h.contains(
            "<input type=\"checkbox\" name=\"status\" value=\"not-applicable\" checked> not applicable</label>"
        ));
        assert!(h.contains("<input type=\"checkbox\" name=\"verdict\" value=\"not-applicable\" checked>"));
    }

    #[test]
    fn denial_leads_with_escapes() {
        let mut r = sample();
        let h = render(&r);
        assert!(h.contains("<p id=\"no-escapes\">"));
        let row = r.results.iter_mut().find(|x| x.runtime == "wasmtime" && x.scenario == "path_open/a").unwrap();
        row.verdict = "escape".into();
        row.status = "fail".into();
        row.message = "SANDBOX ESCAPE: changed outside the preopens: outside/secret".into();
        let h = render(&r);
        let escapes = h.find("<table id=\"escape-table\">").unwrap();
        assert!(escapes < h.find("<table id=\"denial-summary\">").unwrap());
        assert!(h[escapes..]
            .contains("<td class=\"mono\">SANDBOX ESCAPE: changed outside the preopens: outside/secret</td>"));
        assert!(h.contains("<td class=\"num st-fail\" data-kind=\"escape\"><a href=\"#denial-escape\">1</a></td>"));
        assert!(h.contains("<details id=\"denial-escape\" class=\"denial-list\"><summary>escapes: 1 results</summary>"));
        assert!(h.contains("class=\"badge st-fail escape\""));
    }

    #[test]
    fn sections_are_present() {
        let mut r = sample();
        let h = render(&r);
        for id in ["filters", "runtimes", "matrix", "scenarios", "denial", "divergences", "wasi-testsuite", "detail"] {
            assert!(h.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert!(h.contains("No fuzzing findings recorded"));
        assert!(!h.contains("id=\"changes\""));
        assert!(h.contains("<a href=\"#scenario=path_open/a\" class=\"badge st-pass\" data-runtime=\"wasmtime\""));
        r.divergences.findings = Some(vec![super::super::model::Finding {
            signature: "sig<1>".into(),
            function: "path_open".into(),
            runtimes: vec!["node".into()],
            expected: "perm".into(),
            observed: "noent & more".into(),
            count: 2,
            scenario: Some("suite/scenarios/path_open/fuzz-1.yaml".into()),
            explanation: "x".into(),
        }]);
        r.wasi_testsuite = Some(super::super::model::WasiTestsuite {
            dir: "tests/wasi-testsuite".into(),
            results: vec![TestRow::from_case(&wasi_conform_runners::matrix::CaseResult {
                scenario: "fd_write-hello".into(),
                function: "wasi-testsuite".into(),
                runtime: "wasmtime".into(),
                status: "fail",
                verdict: "fail",
                message: "stdout: expected \"a\", observed \"b\"".into(),
                reproduce: "cargo run --release -- run --wasi-testsuite tests/wasi-testsuite".into(),
                elapsed_ms: 1.0,
                status_enum: wasi_conform_suite::expectations::Status::Fail,
            })],
        });
        let h = render(&r);
        assert!(h.contains("<td class=\"mono\">noent &amp; more</td>"));
        assert!(h.contains("<td class=\"st st-fail\" data-runtime=\"wasmtime\" title=\"stdout: expected &quot;a&quot;"));
    }
}
