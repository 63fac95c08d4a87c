//! Conversion benchmarks (BRIEF §9: conversion must be cheap; speed is measured here, never asserted).
//!
//! * `convert/native-story`: `examples/native-story.json` (one Taranis story with news items, indicators,
//!   observables and SDOs), bytes → MISP event;
//! * `convert/report-5000`: a generated bundle whose report references 5,000 indicators and observables;
//! * `map_content/report-5000`: only the STIX content mapping of those 5,000 objects (already parsed).
//!
//! Run: `cargo bench --bench convert -- --quick` (see `docs/benchmarks.md` for recorded results).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use misp_connector::convert::{ConvertOptions, convert};
use misp_connector::limits::Limits;
use misp_connector::mapping::content::map_content;
use misp_connector::stix::bundle;
use serde_json::{Value, json};
use uuid::Uuid;

const N: usize = 5_000;

/// A deterministic uuid for generated ids.
fn id(kind: &str, i: usize) -> String {
    format!(
        "{kind}--{}",
        Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{kind}{i}").as_bytes())
    )
}

/// A report referencing `n` objects: a mix of simple and multi-property indicators and of observables.
fn big_bundle(n: usize) -> Vec<u8> {
    let mut objects: Vec<Value> = Vec::with_capacity(n + 1);
    let mut refs = Vec::with_capacity(n);
    for i in 0..n {
        let o = match i % 8 {
            0 => json!({"type": "indicator", "spec_version": "2.1", "id": id("indicator", i),
                "created": "2025-01-01T00:00:00Z", "modified": "2025-01-01T00:00:00Z",
                "name": format!("C2 {i}"), "pattern_type": "stix", "valid_from": "2025-01-01T00:00:00Z",
                "pattern": format!("[ipv4-addr:value = '10.{}.{}.{}']", i / 65536 % 256, i / 256 % 256, i % 256)}),
            1 => json!({"type": "indicator", "spec_version": "2.1", "id": id("indicator", i),
                "created": "2025-01-01T00:00:00Z", "modified": "2025-01-01T00:00:00Z",
                "pattern_type": "stix", "valid_from": "2025-01-01T00:00:00Z",
                "pattern": format!("[file:name = 'dropper{i}.exe' AND file:hashes.'SHA-256' = '{:064x}']", i)}),
            2 => json!({"type": "indicator", "spec_version": "2.1", "id": id("indicator", i),
                "created": "2025-01-01T00:00:00Z", "modified": "2025-01-01T00:00:00Z",
                "pattern_type": "stix", "valid_from": "2025-01-01T00:00:00Z",
                "pattern": format!("[url:value = 'https://evil{i}.example/gate.php'] OR [domain-name:value = 'evil{i}.example']")}),
            3 => json!({"type": "indicator", "spec_version": "2.1", "id": id("indicator", i),
                "created": "2025-01-01T00:00:00Z", "modified": "2025-01-01T00:00:00Z",
                "pattern_type": "stix", "valid_from": "2025-01-01T00:00:00Z",
                "pattern": format!("[url:value LIKE '%/panel{i}/%']")}),
            4 => json!({"type": "domain-name", "spec_version": "2.1", "id": id("domain-name", i),
                "value": format!("host{i}.example.net")}),
            5 => json!({"type": "url", "spec_version": "2.1", "id": id("url", i),
                "value": format!("http://host{i}.example.net/x")}),
            6 => json!({"type": "file", "spec_version": "2.1", "id": id("file", i),
                "name": format!("f{i}.bin"), "size": i, "hashes": {"MD5": format!("{:032x}", i)}}),
            _ => json!({"type": "ipv6-addr", "spec_version": "2.1", "id": id("ipv6-addr", i),
                "value": format!("2001:db8::{:x}", i)}),
        };
        refs.push(o["id"].clone());
        objects.push(o);
    }
    objects.insert(
        0,
        json!({"type": "report", "spec_version": "2.1", "id": id("report", 0),
            "created": "2025-01-01T00:00:00Z", "modified": "2025-01-02T00:00:00Z",
            "published": "2025-01-02T00:00:00Z", "name": "Big generated report",
            "description": "5,000 indicators and observables", "object_refs": refs}),
    );
    let bundle = json!({"type": "bundle", "id": id("bundle", 0), "objects": objects});
    serde_json::to_vec(&bundle).unwrap_or_default()
}

fn benches(c: &mut Criterion) {
    let opts = ConvertOptions::default();
    let story = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/native-story.json"
    ))
    .unwrap_or_default();
    let big = big_bundle(N);
    // Sanity: both inputs convert (a broken bench input must not silently measure the error path).
    for (name, bytes) in [("native-story", &story), ("report-5000", &big)] {
        match convert(bytes, &opts) {
            Ok(c) if !c.stories.is_empty() => {}
            other => panic!("{name} does not convert: {other:?}"),
        }
    }

    let mut g = c.benchmark_group("convert");
    g.throughput(Throughput::Elements(1));
    g.bench_function("native-story", |b| {
        b.iter(|| convert(black_box(&story), &opts))
    });
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("report-5000", |b| {
        b.iter(|| convert(black_box(&big), &opts))
    });
    g.finish();

    let parsed = match bundle::parse(&big, &Limits::default()) {
        Ok(b) => b,
        Err(e) => panic!("generated bundle does not parse: {e}"),
    };
    let content: Vec<_> = parsed
        .objects
        .into_iter()
        .filter(|o| o.type_ != "report")
        .collect();
    let event = Uuid::from_u128(1);
    let mut g = c.benchmark_group("map_content");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("report-5000", |b| {
        b.iter(|| map_content(event, black_box(&content)))
    });
    g.finish();
}

criterion_group!(convert_benches, benches);
criterion_main!(convert_benches);
