//! Prints what `/metrics` shows of a process that did everything once (every metric family with a
//! sample), in the Prometheus text format: for `promtool check metrics`
//! (deploy/observability/check.sh) and for readers of docs/operations.md.

fn main() {
    print!("{}", sj_shared::observe::Metrics::example().encode());
}
