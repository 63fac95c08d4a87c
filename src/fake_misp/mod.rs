//! A stateful fake MISP 2.5.1 for tests and benchmarks.
