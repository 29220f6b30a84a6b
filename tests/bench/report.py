#!/usr/bin/env python3
"""Turns tests/bench/run_all.sh's raw results into the Markdown tables the README quotes."""
import json
import statistics
import sys
from pathlib import Path


def load_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def e2e_table(rows, targets, eof=False):
    """Medians per (target, queues, threads), ratios only between rows of the same queue and thread
    counts; a target that could not serve a queue count (a "skipped" line) gets a row saying why.
    eof adds the server-close workload's connect-to-EOF p50. Results from before queue counts
    existed ran on one queue."""
    by, skipped = {}, {}
    for r in rows:
        key = (r["target"], r.get("queues", 1), r["threads"])
        if "skipped" in r:
            skipped[key] = r["skipped"]
        else:
            by.setdefault(key, []).append(r)
    metrics = ("rate", "p50_us", "p99_us") + (("p50_eof_us",) if eof else ())
    med = {k: {m: statistics.median(x.get(m, 0) for x in v) for m in metrics}
           | {"failures": sum(x["failures"] for x in v)} for k, v in by.items()}
    ours = ("tapstack", "tapstack-busy-poll")
    # The queue count gets its column once the results hold another than 1: a default run's
    # tables keep the shape the README's have.
    queue_counts = sorted({k[1] for k in med} | {k[1] for k in skipped})
    queues_head, queues_rule = (" queues |", "---|") if queue_counts != [1] else ("", "")
    eof_head = " p50 to EOF µs |" if eof else ""
    out = ["| target |" + queues_head + " threads | conn/s | p50 µs | p99 µs |" + eof_head + " failures | "
           + " | ".join(f"{t} ÷ target" for t in ours) + " |",
           "|---|" + queues_rule + "---|---|---|---|" + ("---|" if eof else "") + "---|---|---|"]
    for queues in queue_counts:
        for threads in sorted({k[2] for k in med if k[1] == queues} | {k[2] for k in skipped if k[1] == queues}):
            for target in targets:
                key = (target, queues, threads)
                queues_cell = f" {queues} |" if queues_head else ""
                m = med.get(key)
                if not m:
                    if key in skipped:
                        # Every cell after conn/s: the other metrics, failures, the ratios.
                        na = " n/a |" * (len(metrics) + len(ours))
                        out.append(f"| {target} |{queues_cell} {threads} | n/a ({skipped[key]}) |{na}")
                    continue
                ratios = []
                for t in ours:
                    mine = med.get((t, queues, threads))
                    ratios.append(f"{mine['rate'] / m['rate']:.2f}" if mine and m["rate"] else "n/a")
                eof_cell = f" {m['p50_eof_us']:.0f} |" if eof else ""
                out.append(f"| {target} |{queues_cell} {threads} | {m['rate']:.0f} | {m['p50_us']:.0f} | "
                           f"{m['p99_us']:.0f} |{eof_cell} {m['failures']} | " + " | ".join(ratios) + " |")
    return "\n".join(out)


def delta(r, name):
    """How much one of tapstackd's counters moved during the run (0 for the kernel listener)."""
    return r.get("counters_after", {}).get(name, 0) - r.get("counters_before", {}).get(name, 0)


def kernel_path_cell(r):
    """What answered the flood: the kernel cookie path's answers beside what the flood sent (the
    SYN-ACKs include the legitimate clients'), or the kernel listener's frames out."""
    taken = r["flood_offered"] - r["flood_refused"]
    if r["target"] == "kernel":
        return f"listener sent {r['server_frames']} frames"
    if "kernel_synacks" not in r.get("counters_after", {}):
        return "n/a"
    if r["flood"] == "syn":
        return (f"{delta(r, 'kernel_synacks')} SYN-ACKs for {taken} flood SYNs + "
                f"{r['connections']} clients")
    return f"{delta(r, 'kernel_acks_refused')} refused of {taken} ACKs"


def ns_per_run_cell(r):
    """The kernel's own timing of the program while the flood ran (bpf_stats_enabled)."""
    runs = r.get("bpf_after", {}).get("run_cnt", 0) - r.get("bpf_before", {}).get("run_cnt", 0)
    if runs <= 0:
        return "n/a"
    ns = r["bpf_after"]["run_time_ns"] - r["bpf_before"]["run_time_ns"]
    return f"{ns / runs:.0f}"


def flood_table(rows):
    """One row per (flood, rate, target); ratios against the kernel listener of the same flood."""
    kernel = {(r["flood"], r["flood_rate"]): r for r in rows if r["target"] == "kernel"}
    out = ["| flood | rate (offered/s) | target | legit conn/s | failures | p50 connect µs | "
           "SYN retransmissions (input backlog drops) | conn/s ÷ kernel | p50 ÷ kernel | kernel path | ns per run "
           "(kernel's timing) | engine: frames read, cookies failed | refused, dropped by the link | "
           "RSS before → after (KiB) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["flood"], r["flood_rate"] == 0, r["flood_rate"])):
        rate = "max" if r["flood_rate"] == 0 else f"{r['flood_rate'] // 1000}k"
        rate += f" ({r['flood_offered_per_s']})"
        k = kernel.get((r["flood"], r["flood_rate"]))
        ratio = f"{r['rate'] / k['rate']:.2f}" if k and k["rate"] else "n/a"
        p50 = f"{r['p50_us'] / k['p50_us']:.2f}" if k and k["p50_us"] else "n/a"
        ours = r["target"] != "kernel"
        engine = (f"{delta(r, 'frames_received')}, {delta(r, 'syncookies_failed')}" if ours else "n/a")
        rss = f"{r['rss_before_kb']} → {r['rss_after_kb']}" if r["rss_before_kb"] else "n/a"
        out.append(f"| {r['flood']} | {rate} | {r['target']} | {r['rate']:.0f} | {r['failures']} | "
                   f"{r['p50_us']} | {r['syn_retransmits']} ({r.get('backlog_drops', 0)}) | {ratio} | {p50} | {kernel_path_cell(r)} | "
                   f"{ns_per_run_cell(r)} | {engine} | {r['flood_refused']}, {r.get('flood_link_dropped', 0)} | {rss} |")
    return "\n".join(out)


def flood_targets(rows):
    """The issue's targets for tapstackd with its defaults, per flood and rate: met or not, and why."""
    kernel = {(r["flood"], r["flood_rate"]): r for r in rows if r["target"] == "kernel"}
    out = []
    for r in rows:
        k = kernel.get((r["flood"], r["flood_rate"]))
        if r["target"] != "tapstack" or r["flood"] not in ("syn", "ack") or not k:
            continue
        missed = []
        if k["rate"] and r["rate"] < k["rate"]:
            missed.append(f"conn/s {r['rate'] / k['rate']:.2f} × the kernel's")
        if r["failures"]:
            missed.append(f"{r['failures']} failures")
        if k["p50_us"] and r["p50_us"] > 2 * k["p50_us"]:
            missed.append(f"p50 {r['p50_us'] / k['p50_us']:.1f} × the kernel's")
        if r["syn_retransmits"]:
            missed.append(f"{r['syn_retransmits']} SYN retransmissions")
        rate = "max" if r["flood_rate"] == 0 else f"{r['flood_rate'] // 1000}k/s"
        out.append(f"- {r['flood']} flood at {rate}: " + ("met" if not missed else "missed: " + "; ".join(missed)))
    return "\n".join(out)


# tapstackd's default buffers per connection (--send-buffer, --receive-buffer): the bound its
# memory growth under data load is held to.
BUFFER_BYTES_PER_CONNECTION = 262144 + 131072
# The one loop's link buffers (stack/link/uring_link_io.h): 64 read buffers of 68 KiB, backed as
# the kernel's 64 KiB frames fill them, and 512 write slots of 2 KiB.
LINK_BUFFER_BYTES = 64 * 68 * 1024 + 512 * 2048
DATA_TARGETS = ("tapstack", "gvisor", "kernel")
DATA_COUNTERS = ("retransmit_timeouts", "fast_retransmits", "rack_lost_segments", "tlp_probes_sent",
                 "data_segments_retransmitted", "delayed_acks_sent")


def data_medians(rows):
    """Per (mode, connections, loss, target): medians of the rate and latencies over the rounds,
    failures summed, and tapstackd's counters moved during the run (medians)."""
    by = {}
    for r in rows:
        by.setdefault((r["mode"], r["connections"], r["loss_permille"], r["target"]), []).append(r)
    med = {}
    for key, runs in by.items():
        m = {k: statistics.median(x[k] for x in runs) for k in ("rate", "p50_us", "p99_us", "retransmits")}
        m["failures"] = sum(x["failures"] for x in runs)
        m["rounds"] = len(runs)
        names = {n for x in runs for n in x.get("counters_after", {})}
        m["counters"] = {n: statistics.median(delta(x, n) for x in runs) for n in names}
        m["rss_before_kb"] = statistics.median(x["rss_before_kb"] for x in runs)
        m["rss_after_kb"] = statistics.median(x["rss_after_kb"] for x in runs)
        med[key] = m
    return med


def data_keys(med):
    modes = ("bulk-send", "bulk-recv", "rr-new", "rr-keep")
    keys = sorted({k[:3] for k in med}, key=lambda k: (k[2], modes.index(k[0]), k[1]))
    return keys


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt_ratio(x):
    return f"{x:.2f}" if x is not None else "n/a"


def data_table(med, rr):
    """One row per (mode, connections, loss): each target's median, tapstack's ratios."""
    unit = "transactions/s" if rr else "MB/s"
    head = (f"| mode | conns | loss | tapstack {unit} | gVisor | kernel | ÷ gVisor | ÷ kernel |"
            + (" p50 / p99 µs: tapstack · gVisor · kernel |" if rr else "")
            + " failures (t · g · k) |")
    out = [head, "|---|---|---|---|---|---|---|---|" + ("---|" if rr else "") + "---|"]
    for mode, conns, loss in data_keys(med):
        cells = [med.get((mode, conns, loss, t)) for t in DATA_TARGETS]
        rates = [c["rate"] if c else None for c in cells]
        fmt = "{:.0f}" if rr else "{:.1f}"
        vals = " | ".join(fmt.format(x) if x is not None else "n/a" for x in rates)
        lat = ""
        if rr:
            lat = " " + " · ".join(f"{c['p50_us']:.0f} / {c['p99_us']:.0f}" if c else "n/a" for c in cells) + " |"
        fails = " · ".join(str(c["failures"]) if c else "n/a" for c in cells)
        out.append(f"| {mode} | {conns} | {loss / 10:g} % | {vals} | {fmt_ratio(ratio(rates[0], rates[1]))} | "
                   f"{fmt_ratio(ratio(rates[0], rates[2]))} |{lat} {fails} |")
    return "\n".join(out)


def data_counters_table(med):
    """tapstackd's side of every row: what its counters say about recovery, and its memory."""
    out = ["| mode | conns | loss | retransmit timeouts | fast retransmits | RACK losses | TLP probes | "
           "segments retransmitted | delayed ACKs | drops (nonzero) | client retransmits (kernel's count) | "
           "RSS before → after KiB |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for mode, conns, loss in data_keys(med):
        m = med.get((mode, conns, loss, "tapstack"))
        if not m:
            continue
        c = m["counters"]
        drops = ", ".join(f"{n[5:]} {v:.0f}" for n, v in sorted(c.items()) if n.startswith("drop_") and v) or "none"
        out.append(f"| {mode} | {conns} | {loss / 10:g} % | "
                   + " | ".join(f"{c.get(n, 0):.0f}" for n in DATA_COUNTERS)
                   + f" | {drops} | {m['retransmits']:.0f} | {m['rss_before_kb']:.0f} → {m['rss_after_kb']:.0f} |")
    return "\n".join(out)


def data_targets(med):
    """The issue's targets per row: ≥ 2 × gVisor and ≥ 0.8 × the kernel (at loss: goodput within
    0.8 × the kernel's under the same loss); memory growth within the configured buffers."""
    out = []
    for mode, conns, loss in data_keys(med):
        t, g, k = (med.get((mode, conns, loss, x)) for x in DATA_TARGETS)
        if not t:
            continue
        missed = []
        rg, rk = ratio(t["rate"], g["rate"] if g else None), ratio(t["rate"], k["rate"] if k else None)
        if rg is not None and rg < 2:
            missed.append(f"{rg:.2f} × gVisor")
        if rk is not None and rk < 0.8:
            missed.append(f"{rk:.2f} × the kernel")
        if t["failures"]:
            missed.append(f"{t['failures']} failures")
        out.append(f"- {mode}, {conns} conn, {loss / 10:g} % loss: " + ("met" if not missed else "missed: " + "; ".join(missed)))
    return "\n".join(out)


def memory_lines(rows):
    """tapstackd's peak RSS (VmHWM) above its idle RSS, per server run (one loss rate and server
    mode: every load mode and connection count against it), the largest over the rounds, against
    the most connections of that run times the per-connection buffers, plus the loop's link
    buffers."""
    runs = {}
    for r in rows:
        if r["target"] != "tapstack":
            continue
        server = "discard" if r["mode"] == "bulk-send" else "echo"
        key = (r["loss_permille"], server)
        grown = r["hwm_kb"] - r["rss_start_kb"]
        conns, was = runs.get(key, (0, 0))
        runs[key] = (max(conns, r["connections"]), max(was, grown))
    out = []
    for (loss, server), (conns, grown) in sorted(runs.items()):
        bound = (conns * BUFFER_BYTES_PER_CONNECTION + LINK_BUFFER_BYTES) // 1024
        verdict = "within" if grown <= bound else "beyond"
        out.append(f"- {server} server, {loss / 10:g} % loss: peak RSS {grown} KiB above idle, {verdict} "
                   f"{conns} connections × {BUFFER_BYTES_PER_CONNECTION // 1024} KiB + "
                   f"{LINK_BUFFER_BYTES // 1024} KiB of link buffers = {bound} KiB")
    return "\n".join(out)


def data_section(out):
    rows = []
    for name in ("bulk.jsonl", "rr.jsonl"):
        if (out / name).exists():
            rows += load_lines(out / name)
    if not rows:
        return None
    med = data_medians(rows)
    parts = ["### Data: bulk and request/response (medians)"]
    bulk = {k: v for k, v in med.items() if k[0].startswith("bulk")}
    rr = {k: v for k, v in med.items() if k[0].startswith("rr")}
    if bulk:
        parts.append("Bulk goodput (bulk-send: to a discard server, what it acknowledged; bulk-recv: "
                     "streamed back by an echo server):\n\n" + data_table(bulk, rr=False))
    if rr:
        parts.append("Request/response, 1 KiB each way (rr-new: a connection per transaction; "
                     "rr-keep: kept-alive connections):\n\n" + data_table(rr, rr=True))
    parts.append("tapstackd during each row (medians of the counters' movement; RSS: the daemon "
                 "idle at the start of its run, and its peak):\n\n" + data_counters_table(med))
    parts.append("Targets (≥ 2 × gVisor, ≥ 0.8 × the kernel):\n\n" + data_targets(med))
    parts.append("tapstackd's memory (send and receive buffers per connection, the defaults, and "
                 "the loop's link buffers):\n\n"
                 + memory_lines(rows))
    if (out / "impairment.jsonl").exists():
        imp = load_lines(out / "impairment.jsonl")
        by = {}
        for r in imp:
            d = by.setdefault(r["target"], [0, 0])
            d[0] += r["dropped"]
            d[1] += r["data_segments"]
        if by:
            parts.append("Impairment, all rounds: " + "; ".join(
                f"{t} {d[0]} of {d[1]} data segments dropped ({100 * d[0] / d[1]:.2f} %)" if d[1] else f"{t} none"
                for t, d in sorted(by.items())))
    return "\n\n".join(parts)


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
        flood = load_lines(out / "flood.jsonl")
        sections.append("### Under flood (spoofed SYNs or ACKs), 2 legitimate client threads\n\n"
                        + flood_table(flood) + "\n\nTargets (tapstackd with its defaults against the kernel "
                        "listener: conn/s ≥ 1.0 ×, 0 failures, p50 ≤ 2 ×, no SYN retransmissions; ACK floods to a "
                        "listener in cookie mode):\n\n"
                        + flood_targets(flood))
        if (out / "kernel_path_timing.txt").exists():
            sections[-1] += ("\n\nBPF_PROG_TEST_RUN on crafted frames: "
                             + (out / "kernel_path_timing.txt").read_text().strip())
    if (data := data_section(out)):
        sections.append(data)
    if (out / "engine.json").exists():
        sections.append("### Engine alone (one core, in-memory link); the SYN shield's filter in the kernel\n\n" + engine_table(out / "engine.json"))
    text = "\n\n".join(sections) + "\n"
    (out / "report.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
