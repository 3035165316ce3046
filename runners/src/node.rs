//! Node.js `node:wasi` (placeholder while the adapter is written).
use wasi_conform_suite::case::TestCase;
use crate::{Availability, Execution, Runtime, Sandbox};
use wasi_conform_suite::outcome::Ending;
pub struct Node;
impl Node { pub fn new() -> Self { Node } }
impl Runtime for Node {
    fn name(&self) -> &'static str { "node" }
    fn version(&self) -> String { String::new() }
    fn availability(&self) -> Availability { Availability::NotAvailable("adapter not written yet".into()) }
    fn run(&self, _case: &TestCase, _sandbox: &Sandbox) -> Execution {
        Execution { ending: Ending::Crash("not available".into()), stdout: vec![], stderr: vec![], memory: None }
    }
}
