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

use super::escape::{json_in_script, xml};
use super::model::{Report, ResultRow, Tally, TestRow};
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
            "<label class=\"st-{st}\"><input type=\"checkbox\" name=\"status\" value=\"{st}\" checked> {st}</label>"
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
const VERDICTS: [&str; 6] = ["pass", "fail", "escape", "timeout", "crash", "error"];

fn bar(t: Tally) -> String {
    let pct = t.ratio().unwrap_or(0.0) * 100.0;
    format!("<span class=\"bar\" title=\"{pct:.1}%\"><span style=\"width:{pct:.1}%\"></span></span> {pct:.1}%")
}

fn runtimes(s: &mut String, r: &Report) {
    s.push_str(
        "<section id=\"runtimes\">\n<h2>Runtimes</h2>\n<p>Passes: scenarios whose verdict is <em>pass</em>. \
        Statuses read each verdict against the runtime's expectation file: <em>expected-fail</em> is a listed, \
        known failure; <em>fail</em> and <em>unexpected-pass</em> make <code>cargo test</code> fail.</p>\n\
        <table id=\"runtime-table\"><thead><tr><th>runtime</th><th>version</th><th>passes</th><th>conformance</th>",
    );
    for st in Report::STATUSES {
        let _ = write!(s, "<th class=\"st-{st}\">{st}</th>");
    }
    s.push_str("<th>expectation file</th><th>time</th></tr></thead><tbody>\n");
    for rt in &r.runtimes {
        let _ = write!(s, "<tr><th>{}</th><td class=\"mono\">{}</td>", xml(&rt.name), xml(&rt.version));
        if !rt.available {
            let _ = writeln!(
                s,
                "<td colspan=\"{}\">not available: {}</td></tr>",
                Report::STATUSES.len() + 4,
                xml(rt.reason.as_deref().unwrap_or(""))
            );
            continue;
        }
        let t = r.runtime_tally(&rt.name);
        let counts = r.status_counts(&rt.name);
        let _ = write!(s, "<td class=\"num\">{} / {}</td><td>{}</td>", t.passed, t.total, bar(t));
        for st in Report::STATUSES {
            let _ = write!(s, "<td class=\"num\">{}</td>", counts.get(st).copied().unwrap_or(0));
        }
        let _ = writeln!(
            s,
            "<td><code>{}</code></td><td class=\"num\">{:.1} s</td></tr>",
            xml(rt.expectations.as_deref().unwrap_or("none")),
            rt.elapsed_s
        );
    }
    s.push_str("</tbody></table>\n</section>\n");
}

/// Red (0%) to green (100%).
fn ratio_colour(ratio: f64) -> String {
    format!("hsl({:.0}, 65%, 75%)", 120.0 * ratio.clamp(0.0, 1.0))
}

fn matrix(s: &mut String, r: &Report) {
    let tallies = r.tallies();
    s.push_str(
        "<section id=\"matrix\">\n<h2>Matrix: runtime × function</h2>\n<p>Scenarios passed / run per function; \
        the colour goes from red (none pass) to green (all pass). A cell selects that runtime and function below.</p>\n\
        <table id=\"matrix-table\"><thead><tr><th>runtime</th>",
    );
    for f in &r.functions {
        let _ = write!(s, "<th class=\"fn\" data-function=\"{0}\">{0}</th>", xml(f));
    }
    s.push_str("</tr></thead><tbody>\n");
    for rt in &r.runtimes {
        let _ = write!(s, "<tr data-runtime=\"{0}\"><th>{0}</th>", xml(&rt.name));
        if !rt.available {
            let _ = writeln!(
                s,
                "<td colspan=\"{}\" class=\"st-none\" style=\"text-align:left\">not available: {}</td></tr>",
                r.functions.len(),
                xml(rt.reason.as_deref().unwrap_or(""))
            );
            continue;
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
                        t.total,
                        t.passed,
                        t.total,
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

fn glyph(status: &str) -> &'static str {
    match status {
        "pass" => "✓",
        "expected-fail" => "×",
        "fail" => "✗",
        "unexpected-pass" => "!",
        "error" => "?",
        _ => "·",
    }
}

fn status_cell(x: &ResultRow) -> String {
    format!(
        "<td class=\"st st-{0}\" data-runtime=\"{1}\" data-status=\"{0}\" data-verdict=\"{2}\" title=\"{1}: {0} (verdict {2})\">{3}</td>",
        xml(&x.status),
        xml(&x.runtime),
        xml(&x.verdict),
        glyph(&x.status)
    )
}

fn scenario_table(s: &mut String, r: &Report) {
    let index = r.result_index();
    let available: Vec<&str> = r.runtimes.iter().filter(|x| x.available).map(|x| x.name.as_str()).collect();
    s.push_str("<section id=\"scenarios\">\n<h2>Scenarios</h2>\n<p class=\"legend\">");
    for st in Report::STATUSES {
        let _ = write!(s, "<span class=\"st-{st}\">{} {st}</span>", glyph(st));
    }
    s.push_str(
        "</p>\n<p>A scenario's name opens it: the steps as written, expected vs observed per step and \
        runtime, each runtime's message and the command that reproduces it.</p>\n\
        <table id=\"scenario-table\"><thead><tr><th>scenario</th><th>strength</th>",
    );
    for rt in &available {
        let _ = write!(s, "<th data-runtime=\"{0}\">{0}</th>", xml(rt));
    }
    s.push_str("</tr></thead><tbody>\n");
    for sc in &r.scenarios {
        let _ = write!(
            s,
            "<tr data-scenario=\"{}\" data-function=\"{}\"><td>{}<br><small>{}</small></td><td>{}</td>",
            xml(&sc.id),
            xml(&sc.function),
            scenario_link(&sc.id),
            xml(&sc.summary),
            xml(&sc.strength)
        );
        for rt in &available {
            match index.get(&(*rt, sc.id.as_str())) {
                Some(x) => s.push_str(&status_cell(x)),
                None => {
                    let _ = write!(s, "<td class=\"st st-none\" data-runtime=\"{}\">·</td>", xml(rt));
                }
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n</section>\n");
}

fn badge(x: &ResultRow) -> String {
    format!(
        "<a href=\"#scenario={0}\" class=\"badge st-{1}\" data-runtime=\"{2}\" title=\"{0} on {2}: {1} (verdict {3})\"></a>",
        xml(&x.scenario),
        xml(&x.status),
        xml(&x.runtime),
        xml(&x.verdict)
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
         refused the escape as the scenario says and nothing outside the preopen changed. Each cell has one square per \
         runtime; a square opens the scenario.</p>\n{}",
        cells.len(),
        legend(r)
    );
    s.push_str(
        "<table id=\"denial-summary\"><thead><tr><th>runtime</th><th>denials passed</th><th>escapes</th>\
         <th>vectors with failures</th></tr></thead><tbody>\n",
    );
    for rt in r.runtimes.iter().filter(|x| x.available) {
        let d = r.denial_summary(&rt.name);
        let vectors: Vec<String> =
            d.failing_vectors.iter().map(|(v, n)| format!("<code>{}</code> ({n})", xml(v))).collect();
        let _ = writeln!(
            s,
            "<tr data-runtime=\"{0}\"><th>{0}</th><td class=\"num\">{1} / {2}</td><td class=\"num{3}\">{4}</td><td>{5}</td></tr>",
            xml(&rt.name),
            d.tally.passed,
            d.tally.total,
            if d.escapes > 0 { " st-fail" } else { "" },
            d.escapes,
            if vectors.is_empty() { "–".to_owned() } else { vectors.join(", ") }
        );
    }
    s.push_str("</tbody></table>\n<table id=\"denial-table\"><thead><tr><th>vector</th>");
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
        assert_eq!(back["results"][5]["message"], "runtime crash: ]]> </script> \u{1} bad");
        assert_eq!(h.matches("<script").count(), 3, "error hook, data, page script");
    }

    #[test]
    fn matrix_has_a_row_per_runtime_and_coloured_ratios() {
        let h = render(&sample());
        let start = h.find("<table id=\"matrix-table\">").unwrap();
        let table = &h[start..start + h[start..].find("</table>").unwrap()];
        assert_eq!(table.matches("<tr data-runtime=").count(), 3);
        assert!(table.contains("<tr data-runtime=\"node\"><th>node</th><td colspan=\"3\" class=\"st-none\" style=\"text-align:left\">not available: `node` not found on PATH &amp; friends</td></tr>"), "{table}");
        // wasmtime path_open: 1 of 2 → half way between red and green.
        assert!(
            table.contains("style=\"background:hsl(60, 65%, 75%)\" title=\"wasmtime, path_open: 1 of 2 pass\""),
            "{table}"
        );
        assert!(table.contains("hsl(120, 65%, 75%)"));
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
