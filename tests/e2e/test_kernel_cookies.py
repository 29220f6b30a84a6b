#!/usr/bin/env python3
"""End to end: the kernel cookie path in the real daemon. On by default it is attached to the
TAP's egress (tc), says so in the log and on /metrics, and answers a port without a listener; --kernel-cookies off and a daemon
without CAP_BPF run without it (the latter after one warning) and still answer cookies in user
space. With syncookies=always a listener is in cookie mode: its SYNs are answered by the
program, its cookie ACKs passed to the engine, a forged ACK refused with an RST, each counted
per listening port on /metrics and in GetStats."""

import socket
import struct
import subprocess
import unittest

import harness as h
from test_prometheus import checksum

TAP = "tse2kc"
PORT = 8080
CLOSED_PORT = 8099
# Dropped from the bounding set, capabilities are not in root's after exec. Without CAP_BPF
# (or CAP_SYS_ADMIN) nothing can be loaded.
WITHOUT_BPF = ["setpriv", "--bounding-set=-bpf,-sys_admin,-perfmon",
               "--inh-caps=-bpf,-sys_admin,-perfmon", "--"]
# What the Kubernetes material and the Dockerfile grant tapstackd, and nothing else: CAP_BPF
# (maps, loading), CAP_NET_ADMIN (a tc program, attaching it), CAP_PERFMON (the verifier allows
# the program's variable offsets into the packet only with it).
ONLY_GRANTED = ["setpriv", "--bounding-set=-all,+bpf,+net_admin,+perfmon", "--inh-caps=-all",
                "--"]


def egress_filters(tap):
    return subprocess.run(["tc", "filter", "show", "dev", tap, "egress"], capture_output=True,
                          text=True, check=True).stdout


def forged_ack(source, source_port, destination_port):
    """An IPv4 + TCP bare ACK from `source` whose acknowledgment number no cookie made; the
    kernel fills in the IP checksum and length (IP_HDRINCL)."""
    tcp = struct.pack("!HHIIBBHHH", source_port, destination_port, 7777, 0x12345678, 5 << 4,
                      0x10, 64240, 0, 0)
    pseudo = socket.inet_aton(source) + socket.inet_aton(h.ENGINE_ADDRESS) + struct.pack(
        "!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, socket.IPPROTO_TCP, 0,
                     socket.inet_aton(source), socket.inet_aton(h.ENGINE_ADDRESS))
    return ip + tcp


class Wrapped(h.Daemon):
    """tapstackd started through `wrapper` (setpriv: the capabilities it runs with)."""

    def __init__(self, wrapper, *flags, **kwargs):
        super().__init__(*flags, **kwargs)
        self.wrapper = wrapper

    def command(self):
        return [*self.wrapper, *super().command()]


class KernelCookiePath(unittest.TestCase):
    def setUp(self):
        h.create_tap(TAP)
        self.addCleanup(h.run_ip, "link", "delete", TAP, check=False)

    def cookie_path_warnings(self, log):
        return [line for line in log.splitlines()
                if "warning" in line and "kernel cookie path" in line]

    def set_syncookies(self, daemon, mode):
        p = h.protos().stack_pb2
        request = p.UpdateConfigRequest()
        request.tunables.syncookies = mode
        daemon.stubs().stack.UpdateConfig(request, timeout=5)

    def expect_samples(self, expected, timeout=10):
        """Polls /metrics until every sample in `expected` has its value."""
        last = {}

        def check():
            last.update(h.scrape())
            return all(last.get(name) == value for name, value in expected.items())

        try:
            h.poll(f"/metrics to show {expected}", check, timeout=timeout)
        except AssertionError as e:
            got = {name: last.get(name) for name in expected}
            raise AssertionError(f"{e}; last values {got}") from None

    def test_attached_by_default_and_detached_on_exit(self):
        with h.Daemon(tap=TAP) as daemon:
            daemon.start()
            self.assertIn("kernel cookie path on", daemon.log())
            self.assertEqual(self.cookie_path_warnings(daemon.log()), [])
            self.assertEqual(h.scrape()["tapstack_kernel_cookie_path_attached"], 1)
            self.assertIn("direct-action", egress_filters(TAP))
            stats = daemon.stubs().stack.GetStats(h.protos().stack_pb2.GetStatsRequest(),
                                                  timeout=5)
            self.assertTrue(stats.kernel_cookie_path_attached)
            self.assertIn("kernel_cookie_resets_sent", [c.name for c in stats.counters])
            # A port without a listener: the program sends the engine's RST, the engine sees
            # nothing.
            with self.assertRaises(ConnectionRefusedError):
                h.kernel_connect(CLOSED_PORT)
            self.expect_samples({"tapstack_kernel_cookie_closed_port_resets_total": 1,
                                 "tapstack_kernel_cookie_resets_sent_total": 1,
                                 "tapstack_resets_sent_total": 0})
            self.assertEqual(daemon.stop(), 0)
        # The TAP outlives the daemon (the test made it): no program is left on it.
        self.assertEqual(egress_filters(TAP).strip(), "")

    def test_tap_queue_set_to_ten_thousand_frames_unless_told_otherwise(self):
        # A queue that rides out the engine being descheduled for a few milliseconds while
        # legitimate handshakes pour in (README, Kernel cookie path); 0 leaves the operator's.
        def queue():
            with open(f"/sys/class/net/{TAP}/tx_queue_len") as f:
                return int(f.read())
        self.assertEqual(queue(), 1000)  # Linux's default, as the test made the TAP
        with h.Daemon(tap=TAP) as daemon:
            daemon.start()
            self.assertEqual(queue(), 10000)
        h.run_ip("link", "set", TAP, "txqueuelen", "500")
        with h.Daemon("--tap-queue-length", "0", tap=TAP) as daemon:
            daemon.start()
            self.assertEqual(queue(), 500)
        with h.Daemon("--tap-queue-length", "2048", tap=TAP) as daemon:
            daemon.start()
            self.assertEqual(queue(), 2048)

    def test_attaches_with_only_the_capabilities_the_deployment_grants(self):
        with Wrapped(ONLY_GRANTED, tap=TAP) as daemon:
            daemon.start()
            self.assertIn("kernel cookie path on", daemon.log())
            self.assertEqual(self.cookie_path_warnings(daemon.log()), [])
            self.assertIn("direct-action", egress_filters(TAP))

    def test_off_by_flag(self):
        with h.Daemon("--kernel-cookies", "off", "--demo-listener", str(PORT), tap=TAP) as daemon:
            daemon.start()
            self.assertIn("kernel cookie path off", daemon.log())
            self.assertEqual(self.cookie_path_warnings(daemon.log()), [])
            samples = h.scrape()
            self.assertEqual(samples["tapstack_kernel_cookie_path_attached"], 0)
            self.assertFalse([s for s in samples if s.startswith(
                ("tapstack_kernel_cookie_synacks", "tapstack_listener_cookie_mode"))])
            self.assertEqual(egress_filters(TAP).strip(), "")

    def test_without_cap_bpf_one_warning_and_cookies_in_user_space(self):
        with Wrapped(WITHOUT_BPF, "--demo-listener", str(PORT), tap=TAP) as daemon:
            daemon.start()
            log = daemon.log()
            self.assertIn("kernel cookie path unavailable", log)
            warnings = self.cookie_path_warnings(log)
            self.assertEqual(len(warnings), 1, log)
            # One line: libbpf's own messages are in it, not on lines of their own.
            for line in log.splitlines():
                self.assertRegex(line, r"^\d\d:\d\d:\d\d\.\d{3} tapstackd ")
            self.assertIn("CAP_BPF", warnings[0])
            self.assertEqual(h.scrape()["tapstack_kernel_cookie_path_attached"], 0)
            self.assertEqual(egress_filters(TAP).strip(), "")
            # The engine answers the cookie itself, and the connection is made from it.
            self.set_syncookies(daemon, h.protos().stack_pb2.SYN_COOKIE_MODE_ALWAYS)
            h.kernel_connect(PORT).close()
            self.expect_samples({"tapstack_syncookies_sent_total": 1,
                                 "tapstack_syncookies_validated_total": 1})

    def test_listener_cookie_mode_and_counters_per_port(self):
        stack_pb2 = h.protos().stack_pb2
        mode = f'tapstack_listener_cookie_mode{{port="{PORT}"}}'
        per_port = {name: f'tapstack_kernel_cookie_{name}_total{{port="{PORT}"}}'
                    for name in ("synacks", "acks_passed", "acks_refused", "syns_dropped")}
        with h.Daemon("--demo-listener", str(PORT), tap=TAP) as daemon:
            daemon.start()
            # syncookies=auto and no overflow: the engine answers the listener's SYNs.
            self.expect_samples({mode: 0, per_port["synacks"]: 0})

            self.set_syncookies(daemon, stack_pb2.SYN_COOKIE_MODE_ALWAYS)
            self.expect_samples({mode: 1})
            # The client stays open until the counts are read: its FIN would repeat the cookie
            # ACK's numbers, and if it beat the engine's update of the live table it would
            # pass (and count) as a second cookie ACK, rightly but by a race.
            client = h.kernel_connect(PORT)
            self.addCleanup(client.close)
            # The SYN-ACK came from the program, the cookie ACK went through it to the engine,
            # which made the connection from it.
            self.expect_samples({per_port["synacks"]: 1, per_port["acks_passed"]: 1,
                                 per_port["acks_refused"]: 0, per_port["syns_dropped"]: 0,
                                 "tapstack_syncookies_sent_total": 0,
                                 "tapstack_syncookies_validated_total": 1,
                                 "tapstack_passive_opens_total": 1})

            # A forged cookie ACK from a source the engine holds nothing for: refused in the
            # kernel with an RST, never seen by the engine.
            raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            self.addCleanup(raw.close)
            raw.sendto(forged_ack("198.18.0.77", 40000, PORT), (h.ENGINE_ADDRESS, 0))
            self.expect_samples({per_port["acks_refused"]: 1,
                                 "tapstack_kernel_cookie_resets_sent_total": 1,
                                 "tapstack_syncookies_failed_total": 0})

            stats = daemon.stubs().stack.GetStats(stack_pb2.GetStatsRequest(), timeout=5)
            listeners = {l.port: l for l in stats.kernel_cookie_listeners}
            self.assertEqual(list(listeners), [PORT])
            self.assertTrue(listeners[PORT].cookie_mode)
            self.assertEqual((listeners[PORT].synacks, listeners[PORT].acks_passed,
                              listeners[PORT].acks_refused), (1, 1, 1))

            self.set_syncookies(daemon, stack_pb2.SYN_COOKIE_MODE_NEVER)
            self.expect_samples({mode: 0})


if __name__ == "__main__":
    h.run()
