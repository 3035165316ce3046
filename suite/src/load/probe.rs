//! The steps that probe a `require:`d capability at run time. The loader puts them before
//! the scenario's own steps; [`crate::verdict`] reads their answers and judges the scenario
//! `not-applicable` on a runtime that lacks the capability.

use wasi_conform_abi::Errno;

use crate::scenario::*;

/// What a probe step's answer means: the capability is missing when the step returns one of
/// `missing_when`.
pub fn missing_when(cap: Capability) -> &'static [Errno] {
    match cap {
        // wasi-testsuite's `supports_rights` skips every rights check when
        // fd_fdstat_set_rights answers NOTSUP; Wasmtime answers it for every call.
        Capability::Rights => &[Errno::Notsup],
    }
}

/// The probe steps for one capability, asking about the preopen bound to `preopen`.
///
/// Rights: `fd_fdstat_get` of the preopen, then `fd_fdstat_set_rights` with the very rights
/// it reported (dropping nothing, adding nothing), as wasi-testsuite's `supports_rights`
/// does. The last probe step is the one whose errno decides.
pub fn steps(cap: Capability, preopen: &str) -> Vec<Step> {
    let fd = || Arg::Scalar(Scalar::Binding(preopen.to_owned()));
    let f = |name: &str| wasi_conform_abi::function(name).expect("in the function table");
    match cap {
        Capability::Rights => {
            let get = f("fd_fdstat_get");
            let set = f("fd_fdstat_set_rights");
            let base = "probe.rights.base".to_owned();
            let inheriting = "probe.rights.inheriting".to_owned();
            vec![
                Step {
                    function: get,
                    args: vec![fd()],
                    defaulted: Vec::new(),
                    out_ptrs: vec![None; get.results.len()],
                    bind: vec![
                        Bind {
                            name: base.clone(),
                            source: BindSource::Result { result: 0, field: Some("rights_base") },
                        },
                        Bind {
                            name: inheriting.clone(),
                            source: BindSource::Result { result: 0, field: Some("rights_inheriting") },
                        },
                    ],
                    expect: StepExpect::default(),
                    line: 0,
                    probe: Some(cap),
                },
                Step {
                    function: set,
                    args: vec![fd(), Arg::Scalar(Scalar::Binding(base)), Arg::Scalar(Scalar::Binding(inheriting))],
                    defaulted: Vec::new(),
                    out_ptrs: vec![None; set.results.len()],
                    bind: Vec::new(),
                    expect: StepExpect::default(),
                    line: 0,
                    probe: Some(cap),
                },
            ]
        }
    }
}
