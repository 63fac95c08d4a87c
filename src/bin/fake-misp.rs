//! `fake-misp`: the stateful fake MISP as its own process (benchmarks, manual tests).

fn main() {}
