//! Which `require:`-able capabilities ([`Capability`]) a runtime has, asked the way a
//! scenario asks: a one-step scenario that requires the capability is run, and its verdict
//! says whether it applies. The scenario harness uses it to label the trials that will be
//! `not-applicable` before they run.

use wasi_conform_suite::expectations::{Expectations, Status};
use wasi_conform_suite::scenario::Capability;

use crate::matrix::{run_case, Prepared};
use crate::Runtime;

/// The smallest scenario that requires `cap`.
fn probe_scenario(cap: Capability) -> String {
    format!(
        "id: fd_fdstat_get/capability-probe\nsummary: probes `{c}`\nspec: 'witx fd_fdstat_get: \"Get the attributes of \
         a file descriptor.\"'\nstrength: must\nrequire: [{c}]\nfixture:\n  preopens:\n    - name: /sandbox\nsteps:\n  \
         - fd_fdstat_get: {{fd: $sandbox}}\n    expect: {{errno: success}}\n",
        c = cap.as_str()
    )
}

/// `Some(why)` when the runtime lacks `cap` (the probe's `not-applicable` message), `None`
/// when it has it or when the probe could not tell (a crash or a failure is left to the
/// scenarios themselves to report).
pub fn missing(rt: &dyn Runtime, cap: Capability) -> Option<String> {
    let text = probe_scenario(cap);
    let scenario = wasi_conform_suite::load::load_str(&text, std::path::Path::new("capability-probe.yaml"))
        .expect("the probe scenario is valid");
    let r = run_case(rt, &Prepared::new(scenario), &Expectations::default());
    (r.status_enum == Status::NotApplicable).then_some(r.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_scenarios_load() {
        for cap in Capability::ALL {
            let text = probe_scenario(cap);
            wasi_conform_suite::load::load_str(&text, std::path::Path::new("p.yaml"))
                .unwrap_or_else(|e| panic!("{}", e.with_snippet()));
        }
    }
}
