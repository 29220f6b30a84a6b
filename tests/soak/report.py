#!/usr/bin/env python3
"""The soak test's report and verdict (tests/soak/run.sh writes what it reads into --out):
the legitimate load per kind of close, resident memory over time, the idle streams, and every
GetStats counter and /metrics sample at the end of the warm-up and at the end, with the delta.
Exits 1 if an assertion failed: a legitimate connection failed after the warm-up, resident
memory left +-10 % of its first sample after the warm-up, an idle stream ended, or the daemon
died."""
import argparse
import json
import sys
from pathlib import Path

KINDS = ("rst", "client", "server")


def flatten(value, prefix=""):
    """GetStats' JSON as (dotted name, number) pairs; proto JSON writes 64-bit integers as text,
    and map entries / repeated messages by key or index."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            name = (item.get("name") or item.get("reason") or item.get("state") or index
                    if isinstance(item, dict) else index)
            yield from flatten(item, f"{prefix}[{name}]")
    elif isinstance(value, bool):
        yield prefix, int(value)
    elif isinstance(value, (int, float)):
        yield prefix, value
    elif isinstance(value, str):
        try:
            yield prefix, int(value)
        except ValueError:
            pass  # enum names and other text are not counters


def metrics(path):
    samples = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        if line.startswith("tapstack_"):
            name, _, number = line.rpartition(" ")
            samples[name] = float(number)
    return samples


def delta_table(title, before, after):
    lines = [f"### {title}", "", "| name | end of warm-up | end | delta |", "|---|---|---|---|"]
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name, 0), after.get(name, 0)
        fmt = (lambda x: f"{x:.0f}") if float(a).is_integer() and float(b).is_integer() else \
            (lambda x: f"{x:.6g}")
        lines.append(f"| {name} | {fmt(a)} | {fmt(b)} | {fmt(b - a)} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--warmup", type=float, required=True)
    parser.add_argument("--watchers", type=int, required=True)
    parser.add_argument("--daemon-alive", type=int, required=True)
    parser.add_argument("--rss-end", type=int, required=True)
    args = parser.parse_args()
    out = args.out
    failures = []
    sections = []

    # Legitimate load.
    rows = ["| phase | close | connections | conn/s | failures | failure kinds | p50 µs | p99 µs "
            "| max ms | p50 to EOF µs | SYN retransmitted |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    measured_failures = 0
    for phase in ("warmup", "measured"):
        for kind in KINDS:
            path = out / f"load-{phase}-{kind}.json"
            if not path.exists():
                continue
            r = json.loads(path.read_text())
            rows.append(f"| {phase} | {kind} | {r['connections']} | {r['rate']:.0f} | "
                        f"{r['failures']} | {json.dumps(r['failure_kinds'])} | {r['p50_us']} | "
                        f"{r['p99_us']} | {r['max_us'] / 1000:.1f} | {r['p50_eof_us']} | "
                        f"{r['retransmitted']} |")
            if phase == "measured":
                measured_failures += r["failures"]
    sections.append("### Legitimate connections\n\n" + "\n".join(rows))
    if measured_failures:
        failures.append(f"{measured_failures} legitimate connections failed after the warm-up")

    # Resident memory.
    samples = [tuple(int(x) for x in line.split("\t")) for line in
               (out / "rss.tsv").read_text().splitlines() if line.strip()]
    samples.append((-1, args.rss_end))  # the last, taken as the load ended
    after = [(t, kb) for t, kb in samples if t >= args.warmup or t == -1]
    text = ", ".join(f"{t}s {kb}" if t >= 0 else f"end {kb}" for t, kb in samples)
    if after and after[0][1] > 0:
        base = after[0][1]
        worst = max(after, key=lambda s: abs(s[1] - base))
        change = (worst[1] - base) / base * 100
        text += f"\n\nafter the warm-up: first {base} KiB, furthest {worst[1]} KiB ({change:+.1f} %)"
        if abs(change) > 10:
            failures.append(f"resident memory moved {change:+.1f} % after the warm-up "
                            f"({base} -> {worst[1]} KiB)")
    else:
        failures.append("no resident-memory sample after the warm-up")
    sections.append("### tapstackd resident memory (KiB, every 10 s)\n\n" + text)

    # Idle streams.
    lines = [json.loads(line) for line in (out / "watchers.jsonl").read_text().splitlines()
             if line.strip()] if (out / "watchers.jsonl").exists() else []
    last = lines[-1] if lines else {"open": 0, "ended": {}}
    sections.append(f"### Idle WatchEvents streams\n\n{last['open']} of {args.watchers} open at "
                    f"the end; ended: {json.dumps(last['ended'])}")
    if last["open"] != args.watchers:
        failures.append(f"{args.watchers - last['open']} idle streams ended: {last['ended']}")

    if not args.daemon_alive:
        failures.append("tapstackd exited during the soak")

    # Every counter, with its delta over the measured part.
    def stats(name):
        path = out / f"stats-{name}.json"
        return dict(flatten(json.loads(path.read_text()))) if path.exists() else {}
    sections.append(delta_table("GetStats", stats("warm"), stats("end")))
    sections.append(delta_table("/metrics (tapstack_*)", metrics(out / "metrics-warm.txt"),
                                metrics(out / "metrics-end.txt")))

    verdict = "PASS" if not failures else "FAIL: " + "; ".join(failures)
    text = "\n\n".join(sections) + f"\n\nsoak: {verdict}\n"
    (out / "report.md").write_text(text)
    print(text)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
