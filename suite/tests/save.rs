//! The YAML writer round-trips: for every scenario of the suite, in both forms, loading what
//! `save::to_yaml` writes gives the same scenario, and writing that again gives the same
//! text. Strings with every kind of character YAML escapes come back unchanged.

use std::path::Path;

use wasi_conform_suite::save::{self, Form};
use wasi_conform_suite::scenario::Scenario;
use wasi_conform_suite::{discover, load};

/// The scenario without what a file does not carry: where it was loaded from, its steps'
/// lines and, in the explicit form (which writes every argument), which arguments the file
/// left to their defaults.
fn canonical(s: &Scenario, form: Form) -> String {
    let mut s = s.clone();
    s.source = Default::default();
    for step in &mut s.steps {
        step.line = 0;
        if form == Form::Explicit {
            step.defaulted.clear();
        }
    }
    format!("{s:#?}")
}

#[test]
fn every_scenario_of_the_suite_round_trips_in_both_forms() {
    let all = discover::load_builtin().unwrap_or_else(|e| panic!("the suite does not load:\n{}", e.join("\n")));
    assert!(all.len() > 100);
    for s in &all {
        for form in [Form::Explicit, Form::Readable] {
            let text = save::to_yaml(s, form);
            let back = load::load_str(&text, &s.source)
                .unwrap_or_else(|e| panic!("{} ({form:?}): {}\n{text}", s.id, e.with_snippet()));
            assert_eq!(canonical(&back, form), canonical(s, form), "{} ({form:?}):\n{text}", s.id);
            assert_eq!(save::to_yaml(&back, form), text, "{} ({form:?})", s.id);
        }
    }
}

#[test]
fn strings_with_any_character_come_back() {
    let tricky = [
        "plain",
        "with \"quotes\" and \\ backslash",
        "tab\there, newline\nthere, cr\r, nul\0, bell\u{7}, esc\u{1b}, del\u{7f}",
        "c1 \u{80} \u{85} \u{9f}, nbsp \u{a0}, bom \u{feff}, ls \u{2028}, ps \u{2029}, nonchar \u{fffe} \u{ffff}",
        "unicode: é, 漢字, 🦀",
        "- not a list",
        "# not a comment",
        "key: value",
        "",
        " leading and trailing ",
    ];
    for t in tricky {
        let text = format!(
            "id: fd_close/t\nsummary: {}\nspec: {}\nstrength: must\nsteps:\n  - fd_close: {{fd: 3}}\n    expect: {{errno: badf}}\n",
            save::quote(t),
            save::plain_or_quoted(t)
        );
        let s = load::load_str(&text, Path::new("t.yaml")).unwrap_or_else(|e| panic!("{t:?}: {}", e.with_snippet()));
        assert_eq!(s.summary, t);
        assert_eq!(s.spec, t);
    }
}

#[test]
fn names_stay_strings() {
    for (name, written) in [
        ("../outside/secret", "../outside/secret"),
        ("/sandbox", "/sandbox"),
        ("a-b_c.d", "a-b_c.d"),
        ("1234", "\"1234\""),
        ("no", "\"no\""),
        ("True", "\"True\""),
        ("NULL", "\"NULL\""),
        (".inf", "\".inf\""),
        (".5", "\".5\""),
        ("a b", "\"a b\""),
        ("$x", "\"$x\""),
        ("", "\"\""),
    ] {
        assert_eq!(save::plain_or_quoted(name), written, "{name:?}");
        let text = format!(
            "id: path_unlink_file/t\nsummary: s\nspec: s\nstrength: must\nfixture:\n  preopens:\n    - name: /sandbox\n\
             steps:\n  - path_unlink_file: {{fd: $sandbox, path: {written}}}\n    expect: {{errno: noent}}\n"
        );
        if name.is_empty() {
            continue;
        }
        let s = load::load_str(&text, Path::new("t.yaml")).unwrap_or_else(|e| panic!("{name:?}: {}", e.with_snippet()));
        assert_eq!(
            s.steps[0].args[1],
            wasi_conform_suite::scenario::Arg::Str(wasi_conform_suite::scenario::Data::Bytes(name.as_bytes().to_vec()))
        );
    }
}
