#!/usr/bin/env python3
"""End to end: a real Prometheus server (Debian's) scrapes tapstackd every second while kernel
clients connect and a small flood of spoofed SYNs arrives; the test asks Prometheus's HTTP API
for the backlog, cookie and drop series and checks them against what it did. promtool checks
the live exposition."""

import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import unittest
import urllib.parse
import urllib.request

import harness as h

PROMETHEUS_ADDRESS = "127.0.0.1:9090"
FLOOD_PORT = 8080
FULL_PORT = 8081
SYN_BACKLOG = 4       # of the flooded listener
FLOOD_SOURCES = 40    # spoofed SYNs, one per source address
FULL_BACKLOG = 3      # of the listener whose accept queue the kernel fills
EXTRA_CLIENTS = 2     # connecting while that queue is full: their SYNs are dropped
# SYN cookies sent by the engine and by the kernel cookie path (per port), together.
COOKIES_SENT = ("sum(tapstack_syncookies_sent_total)"
                " + (sum(tapstack_kernel_cookie_synacks_total) or vector(0))")


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def spoofed_syn(source, destination, source_port, destination_port, seq):
    """An IPv4 + TCP SYN (with an MSS option) from `source`; the kernel fills in the IP
    checksum and length (IP_HDRINCL)."""
    options = struct.pack("!BBH", 2, 4, 1460)
    tcp = struct.pack("!HHIIBBHHH", source_port, destination_port, seq, 0, (6 << 4), 0x02,
                      64240, 0, 0) + options
    pseudo = socket.inet_aton(source) + socket.inet_aton(destination) + struct.pack(
        "!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, socket.IPPROTO_TCP,
                     0, socket.inet_aton(source), socket.inet_aton(destination))
    return ip + tcp


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


class Prometheus:
    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="tapstack-e2e-prometheus-")
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: tapstack\n    static_configs:\n"
                    f"      - targets: ['{target}']\n")
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.process = subprocess.Popen(
            ["prometheus", f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address={PROMETHEUS_ADDRESS}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        h.poll("Prometheus to be ready",
               lambda: http_get(f"http://{PROMETHEUS_ADDRESS}/-/ready"), timeout=30)

    def query(self, expression):
        """The instant vector as {frozenset(labels): value}."""
        url = f"http://{PROMETHEUS_ADDRESS}/api/v1/query?" + urllib.parse.urlencode(
            {"query": expression})
        body = json.loads(http_get(url))
        assert body["status"] == "success", body
        return {frozenset(r["metric"].items()): float(r["value"][1])
                for r in body["data"]["result"]}

    def value(self, expression):
        result = self.query(expression)
        return next(iter(result.values())) if len(result) == 1 else None

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.dir)


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        h.create_tap("tse2em")
        cls.daemon = h.Daemon("--syncookies", "auto", tap="tse2em")
        cls.daemon.__enter__()
        cls.prometheus = None
        try:
            cls.daemon.start()
            cls.prometheus = Prometheus(h.METRICS_ADDRESS)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.prometheus:
            cls.prometheus.stop()
        cls.daemon.__exit__(None, None, None)

    def expect(self, expression, predicate, description, timeout=20):
        """Polls Prometheus (not the exporter) until `expression` satisfies `predicate`."""
        last = []

        def check():
            last[:] = [self.prometheus.value(expression)]
            return last[0] is not None and predicate(last[0])

        try:
            h.poll(f"Prometheus: {expression} {description}", check, timeout=timeout)
        except AssertionError as e:
            raise AssertionError(f"{e}; last value {last}") from None

    def equals(self, expression, expected, timeout=20):
        self.expect(expression, lambda v: v == expected, f"== {expected}", timeout)

    def at_least(self, expression, expected, timeout=20):
        self.expect(expression, lambda v: v >= expected, f">= {expected}", timeout)

    def listen(self, port, backlog, syn_backlog=None):
        p = h.protos().endpoints_pb2
        e = self.daemon.stubs().endpoints
        endpoint = e.CreateEndpoint(p.CreateEndpointRequest(), timeout=5)
        e.Bind(p.BindRequest(id=endpoint.id, port=port), timeout=5)
        request = p.ListenRequest(id=endpoint.id)
        request.backlog.value = backlog
        if syn_backlog is not None:
            request.syn_backlog.value = syn_backlog
        e.Listen(request, timeout=5)
        return endpoint.id

    def test_metrics_under_connections_and_syn_flood(self):
        p = h.protos().endpoints_pb2
        endpoints = self.daemon.stubs().endpoints
        flooded = self.listen(FLOOD_PORT, backlog=64, syn_backlog=SYN_BACKLOG)
        full = self.listen(FULL_PORT, backlog=FULL_BACKLOG)
        flood_label = f'listener="0.0.0.0:{FLOOD_PORT}"'  # bound to the wildcard
        full_label = f'listener="0.0.0.0:{FULL_PORT}"'

        # The kernel fills one listener's accept queue, then keeps knocking.
        clients = [h.kernel_connect(FULL_PORT) for _ in range(FULL_BACKLOG)]
        self.addCleanup(lambda: [c.close() for c in clients])
        self.equals(f'tapstack_listen_backlog_depth{{{full_label},queue="accept"}}',
                    FULL_BACKLOG)
        for _ in range(EXTRA_CLIENTS):
            pending = socket.socket()
            pending.setblocking(False)
            pending.connect_ex((h.ENGINE_ADDRESS, FULL_PORT))
            clients.append(pending)

        # Spoofed SYNs from addresses nobody has: the SYN-RCVD table fills, then cookies.
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.addCleanup(raw.close)
        for i in range(FLOOD_SOURCES):
            source = f"198.18.0.{10 + i}"
            raw.sendto(spoofed_syn(source, h.ENGINE_ADDRESS, 40000 + i, FLOOD_PORT,
                                   1000 * (i + 1)), (h.ENGINE_ADDRESS, 0))

        self.equals(f'tapstack_listen_backlog_depth{{{flood_label},queue="syn"}}', SYN_BACKLOG)
        self.equals(f'tapstack_listen_backlog_limit{{{flood_label},queue="syn"}}', SYN_BACKLOG)
        self.equals(f'tapstack_listen_backlog_depth{{{flood_label},queue="accept"}}', 0)
        self.equals(f'tapstack_listen_backlog_limit{{{full_label},queue="accept"}}',
                    FULL_BACKLOG)
        # Once the table overflows the listener is in cookie mode, and the kernel cookie path
        # answers its SYNs before they reach the engine: cookies come from both.
        self.equals(COOKIES_SENT, FLOOD_SOURCES - SYN_BACKLOG)
        self.equals("tapstack_syncookies_validated_total", 0)
        self.equals("tapstack_syncookies_failed_total", 0)
        self.equals("tapstack_passive_opens_total", FULL_BACKLOG)
        self.equals("tapstack_handshake_duration_seconds_count", FULL_BACKLOG)
        self.equals('tapstack_endpoints{state="listen"}', 2)
        self.equals('tapstack_endpoints{state="established"}', FULL_BACKLOG)
        # Each pending client's SYN (and its retransmissions) found the accept queue full: the
        # engine dropped it, or the kernel cookie path did before the TAP's queue.
        kernel_dropped = (f'(sum(tapstack_kernel_cookie_syns_dropped_total{{port="{FULL_PORT}"}})'
                          ' or vector(0))')
        self.at_least('sum(tapstack_dropped_packets_total{reason="accept_queue_full"}) + '
                      + kernel_dropped, EXTRA_CLIENTS)
        self.at_least("sum(tapstack_listen_overflows_total) + " + kernel_dropped, EXTRA_CLIENTS)
        # The half-open records retransmit their SYN-ACKs after 1 s; nobody answers the ARP
        # for the spoofed sources (3 tries, 1 s apart), so the engine's frames to them are
        # dropped (the kernel path's SYN-ACKs go back the way their SYNs came, without ARP).
        self.at_least('tapstack_syn_retransmits_total{kind="synack"}', SYN_BACKLOG)
        self.at_least('sum(tapstack_dropped_packets_total{reason="arp_failed"})'
                      ' - sum(tapstack_syncookies_sent_total)', SYN_BACKLOG)

        # A real client while the SYN-RCVD table is still full: a cookie, and it validates.
        cookie_client = h.kernel_connect(FLOOD_PORT)
        self.addCleanup(cookie_client.close)
        self.equals("tapstack_syncookies_validated_total", 1)
        self.equals(COOKIES_SENT, FLOOD_SOURCES - SYN_BACKLOG + 1)
        self.equals(f'tapstack_listen_backlog_depth{{{flood_label},queue="accept"}}', 1)
        accepted = endpoints.Accept(p.AcceptRequest(id=flooded), timeout=5)
        self.assertTrue(accepted.connection.from_syn_cookie)

        # Accepting from the full listener makes room: the pending clients' retransmitted SYNs
        # get in, and the depth follows.
        for _ in range(FULL_BACKLOG):
            endpoints.Accept(p.AcceptRequest(id=full), timeout=5)
        self.equals(f'tapstack_listen_backlog_depth{{{full_label},queue="accept"}}',
                    EXTRA_CLIENTS, timeout=30)
        self.equals("tapstack_passive_opens_total", FULL_BACKLOG + 1 + EXTRA_CLIENTS,
                    timeout=30)

    def test_exposition_is_clean_and_complete(self):
        body = http_get(f"http://{h.METRICS_ADDRESS}/metrics")
        check = subprocess.run(["promtool", "check", "metrics"], input=body,
                               capture_output=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        text = body.decode()
        families = {line.split()[2] for line in text.splitlines()
                    if line.startswith("# TYPE ")}
        ours = {f for f in families if f.startswith("tapstack_")}
        # Every engine counter is exported (SYN and SYN-ACK retransmissions as one family).
        stats = self.daemon.stubs().stack.GetStats(h.protos().stack_pb2.GetStatsRequest(),
                                                   timeout=5)
        for counter in stats.counters:
            name = {"synack_retransmits": "syn_retransmits"}.get(counter.name, counter.name)
            self.assertIn(f"tapstack_{name}_total", ours)
        for drop in stats.drops:
            self.assertIn(f'tapstack_dropped_packets_total{{reason="{drop.name}"}}', text)
        for required in ("tapstack_listen_backlog_depth", "tapstack_listen_backlog_limit",
                         "tapstack_handshake_duration_seconds", "tapstack_endpoints",
                         "tapstack_packets_received_total", "tapstack_packets_sent_total",
                         "tapstack_resets_sent_total", "tapstack_active_opens_total",
                         "tapstack_tap_queue_drops_total", "tapstack_kernel_cookie_path_attached",
                         "tapstack_kernel_cookie_synacks_total",
                         "tapstack_kernel_cookie_acks_passed_total",
                         "tapstack_kernel_cookie_acks_refused_total",
                         "tapstack_kernel_cookie_syns_dropped_total",
                         "tapstack_listener_cookie_mode",
                         "tapstack_kernel_cookie_resets_sent_total"):
            self.assertIn(required, ours)
        self.assertIn('tapstack_handshake_duration_seconds_bucket{le="5e-05"}', text)
        self.assertIn('tapstack_handshake_duration_seconds_bucket{le="10"}', text)
        self.assertIn('tapstack_syn_retransmits_total{kind="syn"}', text)
        # What is not ours is prometheus-cpp's own exporter accounting.
        self.assertTrue(all(f.startswith("exposer_") for f in families - ours),
                        families - ours)


if __name__ == "__main__":
    h.run()
