#!/usr/bin/env python3
"""End to end: tapstackd as a process -- its flags and --help, startup errors (one clear
line, non-zero exit), health on start and shutdown, and what SIGTERM/SIGINT leave behind."""

import os
import secrets
import signal
import socket
import subprocess
import tempfile
import threading
import unittest

import grpc

import harness as h


def fnv1a_mac(name):
    """The documented default MAC: 02 + the first five bytes of FNV-1a-64(TAP name)."""
    value = 0xcbf29ce484222325
    for byte in name.encode():
        value = ((value ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    tail = value.to_bytes(8, "big")[:5]
    return ":".join(f"{b:02x}" for b in b"\x02" + tail)


class CpuCgroup:
    """A cgroup of its own under the root of the CPU controller's hierarchy (v1's cpu, or v2),
    with a quota or none: the daemon started in it sees exactly that quota. `ip netns exec`
    gives the test a /sys without cgroups, so the hierarchy is mounted again in the test's own
    mount namespace (the host's mounts are untouched)."""

    def __init__(self, quota_fraction):
        self.path = None
        self.mount = tempfile.mkdtemp(prefix="tapstack-e2e-cgroup-")
        name = "tapstack-e2e-" + secrets.token_hex(4)
        if subprocess.run(["mount", "-t", "cgroup", "-o", "cpu", "cgroup", self.mount],
                          capture_output=True).returncode == 0:
            self.path = os.path.join(self.mount, name)
            os.mkdir(self.path)
            self.write("cpu.cfs_period_us", "100000")
            self.write("cpu.cfs_quota_us",
                       str(int(quota_fraction * 100000)) if quota_fraction else "-1")
        elif subprocess.run(["mount", "-t", "cgroup2", "cgroup2", self.mount],
                            capture_output=True).returncode == 0 and \
                "cpu" in h.read_text(os.path.join(self.mount, "cgroup.subtree_control")).split():
            self.path = os.path.join(self.mount, name)
            os.mkdir(self.path)
            self.write("cpu.max",
                       f"{int(quota_fraction * 100000)} 100000" if quota_fraction else "max")

    def write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(value)

    def wrapper(self):
        """Runs the command in the cgroup: the shell joins it, then becomes the command."""
        return ["sh", "-c", f'echo $$ > {self.path}/cgroup.procs && exec "$@"', "sh"]

    def remove(self):
        if self.path:
            os.rmdir(self.path)  # empty once the daemon has exited
        subprocess.run(["umount", self.mount], capture_output=True)
        os.rmdir(self.mount)


class InCgroup(h.Daemon):
    def __init__(self, cgroup, *flags, **kwargs):
        super().__init__(*flags, **kwargs)
        self.cgroup = cgroup

    def command(self):
        return [*self.cgroup.wrapper(), *super().command()]


class DaemonProcess(unittest.TestCase):
    def run_daemon(self, *flags, timeout=20):
        return subprocess.run([h.Paths.tapstackd, *flags], capture_output=True, text=True,
                              timeout=timeout)

    def test_help_documents_every_flag(self):
        result = self.run_daemon("--help")
        self.assertEqual(result.returncode, 0)
        documented = {line.split()[0] for line in result.stdout.splitlines()
                      if line.startswith("  --")}
        self.assertEqual(documented, {
            "--tap", "--address", "--mac", "--gateway", "--gateway-mac", "--mtu", "--grpc-listen",
            "--grpc-tls-cert", "--grpc-tls-key", "--grpc-client-ca", "--metrics-listen",
            "--syncookies", "--syn-retries", "--synack-retries", "--abort-on-overflow",
            "--backlog", "--max-endpoints", "--demo-listener", "--demo-mode", "--shutdown-grace",
            "--link-io", "--busy-poll-us", "--queues", "--kernel-cookies", "--log-level", "--grpc-allow-insecure",
            "--grpc-max-calls", "--grpc-max-calls-per-client", "--grpc-watch-buffer",
            "--max-captures", "--capture-memory", "--grpc-keepalive-ms", "--grpc-keepalive-timeout-ms", "--grpc-max-connection-idle-ms",
            "--loop-stall-timeout", "--max-time-wait", "--max-half-open", "--max-orphans",
            "--tap-queue-length", "--tap-offloads", "--send-buffer", "--receive-buffer", "--congestion-control",
            "--help"})

    def assert_one_line_error(self, result, returncode, *fragments):
        lines = result.stderr.strip().splitlines()
        self.assertEqual(result.returncode, returncode, result.stderr)
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertTrue(lines[0].startswith("tapstackd: "), lines[0])
        for fragment in fragments:
            self.assertIn(fragment, lines[0])

    def test_bad_flags(self):
        cases = [
            (["--address", "198.18.0.300/24"], "--address"),
            (["--address", "198.18.0.2"], "--address"),
            (["--syncookies", "sometimes"], "--syncookies"),
            (["--syn-retries", "0"], "--syn-retries"),
            (["--mac", "01:00:5e:00:00:01"], "--mac"),
            (["--gateway-mac", "02:00:00:00:00:01"], "--gateway-mac needs --gateway"),
            (["--gateway", "198.18.0.1", "--gateway-mac", "ff:ff:ff:ff:ff:ff"], "--gateway-mac"),
            (["--grpc-tls-key", "/nonexistent"], "--grpc-tls-cert"),
            (["--busy-poll-us", "1000001"], "--busy-poll-us"),
            (["--busy-poll-us", "-5"], "--busy-poll-us"),
            (["--busy-poll-us", "automatic"], "--busy-poll-us"),
            (["--kernel-cookies", "maybe"], "--kernel-cookies"),
            (["--tap-offloads", "maybe"], "--tap-offloads"),
            (["--queues", "0"], "--queues"),
            (["--queues", "65"], "--queues"),
            (["--tap-queue-length", "1000001"], "--tap-queue-length"),
            (["--demo-mode", "reverse"], "--demo-mode"),
            (["--frobnicate"], "unknown flag"),
        ]
        for flags, fragment in cases:
            with self.subTest(flags=flags):
                self.assert_one_line_error(self.run_daemon(*flags), 2, fragment)

    def occupy(self, port):
        # SO_REUSEADDR: earlier tests may have left the port in TIME-WAIT.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
        self.addCleanup(sock.close)

    def test_startup_errors(self):
        self.occupy(50051)
        self.assert_one_line_error(self.run_daemon("--tap", "tse2ex"), 1, "--grpc-listen",
                                   "in use")
        self.assertFalse(h.link_exists("tse2ex"), "a failed start must not leave a TAP")

        self.occupy(9464)
        self.assert_one_line_error(
            self.run_daemon("--tap", "tse2ex", "--grpc-listen", "127.0.0.1:50052"), 1,
            "--metrics-listen", "in use")

        free = ["--grpc-listen", "127.0.0.1:50053", "--metrics-listen", "127.0.0.1:9465"]
        # lo exists and is no TAP: the TAP cannot be opened.
        self.assert_one_line_error(self.run_daemon("--tap", "lo", *free), 1, "--tap lo")
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as junk:
            junk.write("not a certificate\n")
            junk.flush()
            self.assert_one_line_error(
                self.run_daemon("--tap", "tse2ex", *free, "--grpc-tls-cert", junk.name,
                                "--grpc-tls-key", junk.name), 1, "--grpc-tls-cert")
        self.assert_one_line_error(
            self.run_daemon("--tap", "tse2ex", *free, "--grpc-listen", "127.0.0.1:99999"), 1,
            "--grpc-listen")
        self.assertFalse(h.link_exists("tse2ex"))

    def test_busy_polling_adaptive_by_default_off_under_a_cpu_quota(self):
        for quota, flags, expected in [
                (None, (), "busy polling adaptive up to 50 us"),
                (None, ("--busy-poll-us", "0"), "busy polling off"),
                (None, ("--busy-poll-us", "20"), "busy polling 20 us"),
                (0.5, (), "busy polling off (auto: CPU quota of 0.50 cores)"),
                (0.5, ("--busy-poll-us", "30"), "busy polling 30 us")]:  # asked for: no guess
            cgroup = CpuCgroup(quota)
            if not cgroup.path:
                self.skipTest("no CPU controller to make a cgroup with (v1 cpu or v2 cpu)")
            try:
                with self.subTest(quota=quota, flags=flags), \
                        InCgroup(cgroup, *flags, tap="tse2bp") as daemon:
                    daemon.start()
                    self.assertIn(expected, daemon.log())
                    self.assertEqual(daemon.stop(), 0)
            finally:
                cgroup.remove()

    def test_sigterm_shuts_down_cleanly(self):
        tap = "tse2ed"  # does not exist: the daemon creates it, and must remove it
        socket_dir = tempfile.mkdtemp(prefix="tapstack-e2e-")
        grpc_socket = os.path.join(socket_dir, "tapstackd.sock")
        p = h.protos()
        pb = p.endpoints_pb2
        with h.Daemon("--demo-listener", "7777", tap=tap,
                      grpc_listen="unix:" + grpc_socket) as daemon:
            daemon.start(wait=False)
            daemon.wait_serving()
            self.assertTrue(h.link_exists(tap))
            h.configure_kernel_side(tap)
            stubs = daemon.stubs()

            config = stubs.stack.GetConfig(p.stack_pb2.GetConfigRequest(), timeout=5)
            self.assertEqual(config.mac, fnv1a_mac(tap))

            # The demo listener accepts and closes gracefully.
            demo = h.kernel_connect(7777)
            self.assertEqual(h.wait_closed_by_peer(demo), "fin")
            demo.close()

            # A listener with one accepted and one queued connection, an Accept waiting on a
            # second listener, an event watcher, and a health watcher.
            listener = self.listen(stubs, pb, 8080)
            accepted_sock = h.kernel_connect(8080)
            self.addCleanup(accepted_sock.close)
            accepted = stubs.endpoints.Accept(pb.AcceptRequest(id=listener), timeout=5)
            queued_sock = h.kernel_connect(8080)
            self.addCleanup(queued_sock.close)
            h.poll("the second connection to be queued", lambda: stubs.endpoints.GetEndpoint(
                pb.GetEndpointRequest(id=listener), timeout=5).listener.accept_queue_depth == 1)
            idle = self.listen(stubs, pb, 8081)
            waiting_accept = stubs.endpoints.Accept.future(pb.AcceptRequest(id=idle), timeout=30)
            h.poll("the Accept to wait", lambda: stubs.endpoints.GetEndpoint(
                pb.GetEndpointRequest(id=idle), timeout=5).listener.accept_waiters == 1)
            events = stubs.endpoints.WatchEvents(pb.WatchEventsRequest(), timeout=30)
            events.initial_metadata()
            health = stubs.health.Watch(p.health_pb2.HealthCheckRequest(), timeout=30)
            statuses = []
            reader = threading.Thread(target=lambda: statuses.extend(r.status for r in health))
            reader.start()
            h.poll("the health watch to report", lambda: statuses)

            self.assertEqual(daemon.stop(), 0, daemon.log())
            reader.join(timeout=10)
            serving = p.health_pb2.HealthCheckResponse
            self.assertEqual(statuses[0], serving.SERVING)
            self.assertIn(serving.NOT_SERVING, statuses)
            self.assertEqual(waiting_accept.exception(timeout=5).code(),
                             grpc.StatusCode.UNAVAILABLE)
            with self.assertRaises(grpc.RpcError) as caught:
                list(events)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)
            self.assertEqual(h.wait_closed_by_peer(accepted_sock), "fin")
            self.assertEqual(h.wait_closed_by_peer(queued_sock), "rst")
            self.assertNotEqual(accepted.id, 0)
            self.assertFalse(h.link_exists(tap), "the TAP the daemon created must be gone")
            self.assertFalse(os.path.exists(grpc_socket), "the unix socket must be gone")
            self.assertIn("stopped", daemon.log())
        os.rmdir(socket_dir)

    def listen(self, stubs, pb, port):
        endpoint = stubs.endpoints.CreateEndpoint(pb.CreateEndpointRequest(), timeout=5)
        stubs.endpoints.Bind(pb.BindRequest(id=endpoint.id, port=port), timeout=5)
        stubs.endpoints.Listen(pb.ListenRequest(id=endpoint.id), timeout=5)
        return endpoint.id

    def test_sigint_keeps_a_tap_it_did_not_create(self):
        tap = h.create_tap("tse2ep")
        with h.Daemon("--mac", "02:00:00:00:00:42", tap=tap) as daemon:
            daemon.start()
            config = daemon.stubs().stack.GetConfig(h.protos().stack_pb2.GetConfigRequest(),
                                                    timeout=5)
            self.assertEqual(config.mac, "02:00:00:00:00:42")
            daemon.process.send_signal(signal.SIGINT)
            self.assertEqual(daemon.process.wait(timeout=20), 0)
        self.assertTrue(h.link_exists(tap))
        h.run_ip("link", "delete", tap)


if __name__ == "__main__":
    h.run()
