#!/usr/bin/env python3
"""Time Python's misp-stix (STIX 2.1 -> MISP import) on the inputs of `benches/convert.rs`.

BRIEF §9 asks conversion to be >= 100x faster than misp-stix on the same bundle. This script measures the
Python side; `cargo bench --bench convert` measures ours. Not run in CI (it needs misp-stix from PyPI).

Setup (outside the repository):

    python3 -m venv /tmp/misp-stix-venv
    /tmp/misp-stix-venv/bin/pip install misp-stix
    /tmp/misp-stix-venv/bin/python bench/misp-stix-compare.py            # both inputs
    /tmp/misp-stix-venv/bin/python bench/misp-stix-compare.py --runs 5 --write-big /tmp/report-5000.json

Inputs, the same as the Rust benchmark:

* `native-story`: `examples/native-story.json`;
* `report-5000`: the bundle `big_bundle(5000)` of `benches/convert.rs` builds, regenerated here with the same
  ids (UUIDv5 in the OID namespace), objects and properties (`--write-big FILE` also writes it to FILE).

What is timed, per run: JSON text -> `stix2` objects (`load_stix2_content`, misp-stix' own loader) -> MISP
event(s) (`ExternalSTIX2toMISPParser.load_stix_bundle` + `parse_stix_bundle`, what `stix_2_to_misp` does),
without writing the result out; our `convert::convert` likewise goes from bytes to the in-memory event. The
median of `--runs` runs is printed (after one warm-up run).
"""

import argparse
import json
import logging
import statistics
import sys
import time
import uuid
from pathlib import Path

from misp_stix_converter.tools.stix2_loading_helpers import load_stix2_content
from misp_stix_converter.tools.stix2_to_misp_helpers import get_stix2_parser, is_stix2_from_misp
from misp_stix_converter.stix2misp.importparser import MISP_org_uuid

REPO = Path(__file__).resolve().parent.parent
N = 5000


def _id(kind: str, i: int) -> str:
    return f"{kind}--{uuid.uuid5(uuid.NAMESPACE_OID, f'{kind}{i}')}"


def big_bundle(n: int) -> str:
    """The same bundle as `big_bundle` in benches/convert.rs."""
    ts = "2025-01-01T00:00:00Z"
    objects, refs = [], []
    for i in range(n):
        k = i % 8
        ind = {"type": "indicator", "spec_version": "2.1", "id": _id("indicator", i), "created": ts,
               "modified": ts, "pattern_type": "stix", "valid_from": ts}
        if k == 0:
            o = dict(ind, name=f"C2 {i}",
                     pattern=f"[ipv4-addr:value = '10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}']")
        elif k == 1:
            o = dict(ind, pattern=f"[file:name = 'dropper{i}.exe' AND file:hashes.'SHA-256' = '{i:064x}']")
        elif k == 2:
            o = dict(ind, pattern=f"[url:value = 'https://evil{i}.example/gate.php'] OR "
                                  f"[domain-name:value = 'evil{i}.example']")
        elif k == 3:
            o = dict(ind, pattern=f"[url:value LIKE '%/panel{i}/%']")
        elif k == 4:
            o = {"type": "domain-name", "spec_version": "2.1", "id": _id("domain-name", i),
                 "value": f"host{i}.example.net"}
        elif k == 5:
            o = {"type": "url", "spec_version": "2.1", "id": _id("url", i), "value": f"http://host{i}.example.net/x"}
        elif k == 6:
            o = {"type": "file", "spec_version": "2.1", "id": _id("file", i), "name": f"f{i}.bin", "size": i,
                 "hashes": {"MD5": f"{i:032x}"}}
        else:
            o = {"type": "ipv6-addr", "spec_version": "2.1", "id": _id("ipv6-addr", i), "value": f"2001:db8::{i:x}"}
        refs.append(o["id"])
        objects.append(o)
    report = {"type": "report", "spec_version": "2.1", "id": _id("report", 0), "created": ts,
              "modified": "2025-01-02T00:00:00Z", "published": "2025-01-02T00:00:00Z",
              "name": "Big generated report", "description": "5,000 indicators and observables",
              "object_refs": refs}
    return json.dumps({"type": "bundle", "id": _id("bundle", 0), "objects": [report] + objects},
                      sort_keys=True, separators=(",", ":"))


def convert(text: str):
    """JSON text -> MISP events, the way `stix_2_to_misp` does it (without writing files)."""
    bundle = load_stix2_content(text)
    detected = is_stix2_from_misp(getattr(bundle, "objects", []))
    parser_class, args = get_stix2_parser(detected, 0, None, None, None, False, False, False,
                                          MISP_org_uuid, 0, None)
    parser = parser_class()
    parser.load_stix_bundle(bundle)
    parser.parse_stix_bundle(**args)
    events = [parser.misp_event] if parser.single_event else list(parser.misp_events)
    return events


def time_it(name: str, text: str, runs: int) -> float:
    events = convert(text)  # warm-up, and a check that something came out
    attrs = sum(len(e.attributes) + sum(len(o.attributes) for o in e.objects) for e in events)
    if not events or attrs == 0:
        sys.exit(f"{name}: misp-stix produced no attribute, refusing to time it")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        convert(text)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"{name}: {len(events)} event(s), {attrs} attributes; median {median * 1000:.2f} ms over {runs} runs "
          f"(min {min(times) * 1000:.2f} ms, max {max(times) * 1000:.2f} ms)")
    return median


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=11, help="timed runs for native-story (0 skips it)")
    ap.add_argument("--big-runs", type=int, default=5, help="timed runs for report-5000 (0 skips it)")
    ap.add_argument("--write-big", type=Path, help="also write the generated report-5000 bundle here")
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # misp-stix logs every unmapped feature; printing is not conversion
    story = (REPO / "examples" / "native-story.json").read_text(encoding="utf-8")
    big = big_bundle(N)
    if args.write_big:
        args.write_big.write_text(big, encoding="utf-8")
    if args.runs > 0:
        time_it("native-story", story, args.runs)
    if args.big_runs > 0:
        time_it("report-5000", big, args.big_runs)


if __name__ == "__main__":
    main()
