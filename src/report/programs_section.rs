//! The real-programs section of `summary.md` and `index.html`: a workload × runtime matrix
//! of `diff` verdicts, then every workload where a runtime departs from the reference —
//! the first diverging call, the other differences, the known reason, the reproduce
//! command.

use std::fmt::Write as _;

use super::escape::{md_cell, xml};
use super::model::{ProgramRow, Report};

/// Runtimes and workloads in report order (the reference's rows are not columns).
fn axes(rows: &[ProgramRow]) -> (Vec<&str>, Vec<&str>) {
    let (mut runtimes, mut workloads): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    for r in rows {
        if r.runtime != "reference" && !runtimes.contains(&r.runtime.as_str()) {
            runtimes.push(&r.runtime);
        }
        if !workloads.contains(&r.workload.as_str()) {
            workloads.push(&r.workload);
        }
    }
    (runtimes, workloads)
}

/// A cell's short text: `agrees`, `#14 fd_fdstat_get`, `crash`, …
fn cell(r: &ProgramRow) -> String {
    match r.verdict.as_str() {
        "differs" => match &r.first_divergence {
            Some(d) => {
                let index = d.split(':').next().unwrap_or("");
                let function = d.split("expected ").nth(1).and_then(|x| x.split('(').next()).unwrap_or("");
                format!("{index} {function}")
            }
            None => "output".into(),
        },
        "not-available" => "·".into(),
        other => other.to_owned(),
    }
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

fn departures(rows: &[ProgramRow]) -> impl Iterator<Item = &ProgramRow> {
    rows.iter().filter(|r| !matches!(r.verdict.as_str(), "agrees" | "not-available" | "not-installed"))
}

const INTRO: &str = "Real preview1 programs from registries (`programs/workloads/`, installed by \
                     `programs/install.sh`), every preview1 call traced by `wasi-conform diff` and compared with \
                     the reference's run call by call (descriptor numbers, addresses, inodes, times, cookies, \
                     rights and directory order normalised). A difference here is a difference, not a verdict \
                     of non-conformance: each one's reason is in `programs/expectations/<runtime>.toml`.";

/// The Markdown section (empty when the report has no program rows).
pub fn markdown(r: &Report) -> String {
    let rows = &r.programs;
    if rows.is_empty() {
        return String::new();
    }
    let (runtimes, workloads) = axes(rows);
    let mut s = format!("\n## Real programs\n\n{INTRO}\n\n| workload | reference calls |");
    for rt in &runtimes {
        let _ = write!(s, " {} |", md_cell(rt));
    }
    s.push_str("\n|---|---:|");
    s.push_str(&"---|".repeat(runtimes.len()));
    s.push('\n');
    for w in &workloads {
        let reference = rows.iter().find(|x| x.workload == *w && x.runtime == "reference");
        let calls =
            reference.map(|x| if x.verdict == "not-installed" { "not installed".into() } else { x.calls.to_string() });
        let _ = write!(s, "| `{}` | {} |", md_cell(w), calls.unwrap_or_default());
        for rt in &runtimes {
            let c = rows.iter().find(|x| x.workload == *w && x.runtime == *rt).map(cell).unwrap_or_default();
            let _ = write!(s, " {} |", md_cell(&c));
        }
        s.push('\n');
    }
    s.push_str("\nWhere a runtime departs (`·`: runtime not available):\n\n");
    for x in departures(rows) {
        let _ = writeln!(
            s,
            "- `{}` on **{}**: {} ({})",
            md_cell(&x.workload),
            md_cell(&x.runtime),
            x.verdict,
            md_cell(&x.ending)
        );
        if let Some(d) = &x.first_divergence {
            let _ = writeln!(s, "  - first diverging call {}", md_cell(&cut(d, 400)));
        }
        for o in &x.other {
            let _ = writeln!(s, "  - {}", md_cell(&cut(o, 200)));
        }
        if let Some(k) = &x.known {
            let _ = writeln!(s, "  - known: {}", md_cell(&cut(k, 400)));
        }
        let _ = writeln!(s, "  - reproduce: `{}`", x.reproduce);
    }
    s
}

/// The HTML section.
pub fn html(s: &mut String, r: &Report) {
    s.push_str("<section id=\"programs\">\n<h2>Real programs</h2>\n");
    let rows = &r.programs;
    if rows.is_empty() {
        s.push_str("<p>No real program was run for this report (<code>programs/install.sh</code>, then <code>wasi-conform report</code> without <code>--no-programs</code>).</p>\n</section>\n");
        return;
    }
    let (runtimes, workloads) = axes(rows);
    let _ = write!(
        s,
        "<p>{}</p>\n<table id=\"programs-table\"><thead><tr><th>workload</th><th>reference calls</th>",
        xml(INTRO)
    );
    for rt in &runtimes {
        let _ = write!(s, "<th data-runtime=\"{0}\">{0}</th>", xml(rt));
    }
    s.push_str("</tr></thead><tbody>\n");
    for w in &workloads {
        let reference = rows.iter().find(|x| x.workload == *w && x.runtime == "reference");
        let _ = write!(
            s,
            "<tr><td class=\"mono\">{}</td><td>{}</td>",
            xml(w),
            reference.map(|x| x.calls.to_string()).unwrap_or_default()
        );
        for rt in &runtimes {
            match rows.iter().find(|x| x.workload == *w && x.runtime == *rt) {
                Some(x) => {
                    let title = [x.ending.clone(), x.first_divergence.clone().unwrap_or_default(), x.reproduce.clone()]
                        .join("\n");
                    let _ = write!(
                        s,
                        "<td class=\"prog prog-{}\" data-runtime=\"{}\" title=\"{}\">{}</td>",
                        xml(&x.verdict),
                        xml(rt),
                        xml(&title),
                        xml(&cell(x))
                    );
                }
                None => {
                    let _ = write!(s, "<td data-runtime=\"{}\">·</td>", xml(rt));
                }
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n<ul id=\"programs-departures\">\n");
    for x in departures(rows) {
        let _ = write!(
            s,
            "<li><code>{}</code> on <b>{}</b>: {} ({})<ul>",
            xml(&x.workload),
            xml(&x.runtime),
            xml(&x.verdict),
            xml(&x.ending)
        );
        if let Some(d) = &x.first_divergence {
            let _ = write!(s, "<li>first diverging call <code>{}</code></li>", xml(&cut(d, 600)));
        }
        for o in &x.other {
            let _ = write!(s, "<li>{}</li>", xml(&cut(o, 300)));
        }
        if let Some(k) = &x.known {
            let _ = write!(s, "<li>known: {}</li>", xml(k));
        }
        let _ = writeln!(s, "<li>reproduce: <code>{}</code></li></ul></li>", xml(&x.reproduce));
    }
    s.push_str("</ul>\n</section>\n");
}
