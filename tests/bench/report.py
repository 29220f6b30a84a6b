#!/usr/bin/env python3
"""Turns tests/bench/run_all.sh's raw results into the Markdown tables the README quotes."""
import json
import statistics
import sys
from pathlib import Path


def load_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def e2e_table(rows, targets, eof=False):
    """Medians per (target, threads); eof adds the server-close workload's connect-to-EOF p50."""
    by = {}
    for r in rows:
        by.setdefault((r["target"], r["threads"]), []).append(r)
    metrics = ("rate", "p50_us", "p99_us") + (("p50_eof_us",) if eof else ())
    med = {k: {m: statistics.median(x.get(m, 0) for x in v) for m in metrics}
           | {"failures": sum(x["failures"] for x in v)} for k, v in by.items()}
    ours = ("tapstack", "tapstack-busy-poll")
    eof_head = " p50 to EOF µs |" if eof else ""
    out = ["| target | threads | conn/s | p50 µs | p99 µs |" + eof_head + " failures | "
           + " | ".join(f"{t} ÷ target" for t in ours) + " |",
           "|---|---|---|---|---|" + ("---|" if eof else "") + "---|---|---|"]
    for threads in sorted({k[1] for k in med}):
        for target in targets:
            m = med.get((target, threads))
            if not m:
                continue
            ratios = []
            for t in ours:
                mine = med.get((t, threads))
                ratios.append(f"{mine['rate'] / m['rate']:.2f}" if mine and m["rate"] else "n/a")
            eof_cell = f" {m['p50_eof_us']:.0f} |" if eof else ""
            out.append(f"| {target} | {threads} | {m['rate']:.0f} | {m['p50_us']:.0f} | "
                       f"{m['p99_us']:.0f} |{eof_cell} {m['failures']} | " + " | ".join(ratios) + " |")
    return "\n".join(out)


def flood_table(rows):
    out = ["| target | flood SYN/s (offered) | legit conn/s | legit failures | "
           "legit connects with SYN retransmissions (max per connect) | max connect ms | "
           "server frames out/s | RSS before → after (KiB) |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        rate = "max" if r["flood_rate"] == 0 else f"{r['flood_rate']}"
        rate += f" ({r.get('flood_offered_per_s', 0)})"
        rss = f"{r['rss_before_kb']} → {r['rss_after_kb']}" if r["rss_before_kb"] else "n/a"
        retrans = f"{r.get('retransmitted', 0)} of {r['connections']} ({r.get('max_syn_retransmits', 0)})"
        out.append(f"| {r['target']} | {rate} | {r['rate']:.0f} | {r['failures']} | {retrans} | "
                   f"{r['max_us'] / 1000:.1f} | {r['synacks_per_s']} | {rss} |")
    return "\n".join(out)


def engine_table(path):
    data = json.loads(path.read_text())
    out = ["| benchmark | ns/op (median) | ops/s |", "|---|---|---|"]
    for b in data["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        ops = b.get("items_per_second", 0)
        # The SYN shield's rows time the filter in the kernel (manual time), not our CPU time.
        ns = b["real_time"] if b["run_name"].endswith("/manual_time") else b["cpu_time"]
        out.append(f"| {b['run_name']} | {ns:.0f} | {ops / 1e6:.2f} M |")
    return "\n".join(out)


def main():
    out = Path(sys.argv[1])
    sections = []
    if (out / "e2e.jsonl").exists():
        sections.append("### End to end over the TAP (medians)\n\n" + e2e_table(
            load_lines(out / "e2e.jsonl"), ("tapstack", "tapstack-busy-poll", "tap_bound", "gvisor", "kernel")))
    if (out / "server_close.jsonl").exists():
        sections.append("### Server close, clients from 4 addresses (medians)\n\n" + e2e_table(
            load_lines(out / "server_close.jsonl"), ("tapstack", "tapstack-busy-poll", "gvisor", "kernel"),
            eof=True))
    if (out / "flood.jsonl").exists():
        sections.append("### Under SYN flood\n\n" + flood_table(load_lines(out / "flood.jsonl")))
    if (out / "engine.json").exists():
        sections.append("### Engine alone (one core, in-memory link); the SYN shield's filter in the kernel\n\n" + engine_table(out / "engine.json"))
    text = "\n\n".join(sections) + "\n"
    (out / "report.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
