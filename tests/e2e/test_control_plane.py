#!/usr/bin/env python3
"""End to end: the control plane under load and attack -- call limits per client and in total
(RESOURCE_EXHAUSTED), a hostile client's idle calls while the kernel connects (connections
still complete, resident memory bounded and given back), keepalive reaping a client that
stopped answering, health, and the startup checks (encrypted TLS key, plaintext gRPC on a
non-loopback address, out-of-range tunables)."""

import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import grpc

import harness as h

TAP = "tscp0"
DEMO_PORT = 7000


def open_watch(stubs, pb, **request):
    """A WatchEvents call that the daemon has registered (or refused: then it raises)."""
    stream = stubs.endpoints.WatchEvents(pb.WatchEventsRequest(**request), timeout=300)
    stream.initial_metadata()
    if stream.done():  # refused: the status came with the metadata
        next(stream)
    return stream


class Limits(unittest.TestCase):
    def daemon(self, *flags):
        daemon = h.Daemon(*flags, tap=TAP)
        self.enterContext(daemon)
        daemon.start()
        return daemon, daemon.stubs(), h.protos().endpoints_pb2

    def expect_exhausted(self, call, flag):
        with self.assertRaises(grpc.RpcError) as caught:
            call()
        self.assertEqual(caught.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn(flag, caught.exception.details())

    def test_per_client_limit(self):
        daemon, stubs, pb = self.daemon("--grpc-max-calls-per-client", "3")
        streams = [open_watch(stubs, pb) for _ in range(2)]
        waiting = stubs.endpoints.StreamAccept(pb.StreamAcceptRequest(id=999), timeout=30)
        with self.assertRaises(grpc.RpcError):  # no such listener, but it took a slot first
            next(waiting)
        # Its slot comes back when gRPC is done with the call, just after the client has heard.
        streams.append(h.poll("the refused call's slot", lambda: open_watch(stubs, pb)))
        # Every kind of call counts: streams, waits and plain commands.
        self.expect_exhausted(lambda: open_watch(stubs, pb), "--grpc-max-calls-per-client")
        self.expect_exhausted(lambda: stubs.endpoints.Accept(pb.AcceptRequest(id=1), timeout=5),
                              "--grpc-max-calls-per-client")
        self.expect_exhausted(lambda: stubs.endpoints.CreateEndpoint(
            pb.CreateEndpointRequest(), timeout=5), "--grpc-max-calls-per-client")
        # Probes are never refused.
        self.assertEqual(daemon.health_status(), h.protos().health_pb2.HealthCheckResponse.SERVING)
        streams.pop().cancel()
        h.poll("the cancelled stream's slot to come back",
               lambda: stubs.endpoints.CreateEndpoint(pb.CreateEndpointRequest(), timeout=5))
        for s in streams:
            s.cancel()

    def test_total_limit(self):
        daemon, stubs, pb = self.daemon("--grpc-max-calls", "2")
        streams = [open_watch(stubs, pb) for _ in range(2)]
        self.expect_exhausted(lambda: open_watch(stubs, pb), "--grpc-max-calls)")
        health = stubs.health.Watch(h.protos().health_pb2.HealthCheckRequest(), timeout=30)
        self.expect_exhausted(lambda: next(health), "--grpc-max-calls)")
        for s in streams:
            s.cancel()
        h.poll("the slots to come back", lambda: open_watch(stubs, pb).cancel() or True)

    def test_health_serving_and_watch(self):
        daemon, stubs, pb = self.daemon()
        health = h.protos().health_pb2
        watch = stubs.health.Watch(health.HealthCheckRequest(), timeout=30)
        self.assertEqual(next(watch).status, health.HealthCheckResponse.SERVING)
        watch.cancel()

    def test_keepalive_reaps_a_client_that_stopped_answering(self):
        # A ping timeout of 5 s: a live client on a loaded 2-core machine must not miss it
        # (with 1 s, and once again with 3 s, CI reaped the client before it was stopped).
        daemon, stubs, pb = self.daemon("--grpc-max-calls-per-client", "1",
                                        "--grpc-keepalive-ms", "1000",
                                        "--grpc-keepalive-timeout-ms", "5000")
        # A client in a process of its own holds the only slot with an idle stream, then stops.
        client = subprocess.Popen([sys.executable, "-c", f"""
import sys, time, grpc
channel = grpc.insecure_channel("{h.GRPC_ADDRESS}", options=[("grpc.enable_http_proxy", 0)])
watch = channel.unary_stream("/tapstack.v1.Endpoints/WatchEvents")(b"")
watch.initial_metadata()
print("ready", flush=True)
time.sleep(600)
"""], stdout=subprocess.PIPE, text=True)
        self.addCleanup(client.wait)
        self.addCleanup(client.kill)
        self.assertEqual(client.stdout.readline().strip(), "ready")
        self.expect_exhausted(lambda: open_watch(stubs, pb), "--grpc-max-calls-per-client")
        client.send_signal(signal.SIGSTOP)  # its kernel still acknowledges; gRPC answers nothing
        started = time.monotonic()
        stream = h.poll("keepalive to end the stopped client's call",
                        lambda: open_watch(stubs, pb), timeout=15, interval=0.2)
        stream.cancel()
        self.assertLess(time.monotonic() - started, 10)


class HostileClient(unittest.TestCase):
    """Issue 11 item 4, scaled to the limits: one process, one channel holding idle
    WatchEvents, pending Accepts and unread StreamAccepts up to the total limit, while the
    kernel connects to the demo listener."""

    WATCHES, ACCEPTS, STREAMS = 600, 250, 100
    LIMIT = 1000
    CONNECTIONS = 1000

    def connect_many(self):
        started = time.monotonic()
        for _ in range(self.CONNECTIONS):
            s = h.kernel_connect(DEMO_PORT, timeout=3)
            s.close()
        return self.CONNECTIONS / (time.monotonic() - started)

    def test_idle_calls_do_not_take_the_packet_path_down(self):
        flags = ["--demo-listener", str(DEMO_PORT), "--backlog", "1024",
                 "--grpc-max-calls", str(self.LIMIT),
                 "--grpc-max-calls-per-client", str(self.LIMIT)]
        with h.Daemon(*flags, tap=TAP) as daemon:
            daemon.start()
            h.configure_kernel_side(TAP)
            pid = daemon.process.pid
            stubs, pb = daemon.stubs(), h.protos().endpoints_pb2
            quiet_rate = self.connect_many()
            baseline = h.rss_kib(pid)

            listeners = []
            for port in (8100, 8101):
                e = stubs.endpoints.CreateEndpoint(pb.CreateEndpointRequest(), timeout=5)
                stubs.endpoints.Bind(pb.BindRequest(id=e.id, port=port), timeout=5)
                stubs.endpoints.Listen(pb.ListenRequest(id=e.id), timeout=5)
                listeners.append(e.id)
            calls = [stubs.endpoints.WatchEvents(pb.WatchEventsRequest(), timeout=300)
                     for _ in range(self.WATCHES)]
            calls += [stubs.endpoints.Accept.future(pb.AcceptRequest(id=listeners[0]),
                                                    timeout=300) for _ in range(self.ACCEPTS)]
            calls += [stubs.endpoints.StreamAccept(pb.StreamAcceptRequest(id=listeners[1]),
                                                   timeout=300) for _ in range(self.STREAMS)]
            h.poll("the Accepts to wait", lambda: stubs.endpoints.GetEndpoint(
                pb.GetEndpointRequest(id=listeners[0]), timeout=5).listener.accept_waiters
                == self.ACCEPTS, timeout=60)
            h.poll("the streams to wait", lambda: stubs.endpoints.GetEndpoint(
                pb.GetEndpointRequest(id=listeners[1]), timeout=5).listener.accept_waiters
                == self.STREAMS, timeout=60)
            # The limit holds: (the two GetEndpoint-style calls above are over) a flood of
            # more watchers is refused once the total is reached.
            extra = [stubs.endpoints.WatchEvents(pb.WatchEventsRequest(), timeout=300)
                     for _ in range(self.LIMIT - len(calls) + 20)]
            refused = 0
            for call in extra:
                call.initial_metadata()
                if call.done() and call.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    refused += 1
            self.assertEqual(refused, 20)
            calls += extra

            # The first events fill the unread streams' HTTP/2 windows; from then on the
            # watchers are stalled and cost nothing per event.
            filling_rate = self.connect_many()
            hostile_rate = self.connect_many()
            loaded = h.rss_kib(pid)
            for call in calls:
                call.cancel()
            stubs.channel.close()
            fresh = h.Stubs(h.grpc_channel(daemon.grpc_listen))
            self.addCleanup(fresh.channel.close)
            h.poll("every call to end", lambda: fresh.endpoints.GetEndpoint(
                pb.GetEndpointRequest(id=listeners[0]), timeout=5).listener.accept_waiters == 0)
            after = h.poll("resident memory to come back", lambda: (
                lambda kib: kib if kib - baseline < 20 * 1024 else None)(h.rss_kib(pid)))
            print(f"\nconnect rate quiet {quiet_rate:.0f}/s, with {len(calls)} idle calls "
                  f"{filling_rate:.0f}/s then {hostile_rate:.0f}/s; RSS KiB baseline {baseline}, loaded {loaded}, "
                  f"after cancel {after}", file=sys.stderr)
            # On a shared 2-core VM the quiet rate itself varies 1.4k-11k/s (measured): the
            # bound is an order of magnitude above the 58/s of issue 11, not a benchmark.
            self.assertGreater(hostile_rate, 500)
            self.assertLess(loaded - baseline, 100 * 1024)
            self.assertLess(after - baseline, 20 * 1024)


class StartupChecks(unittest.TestCase):
    def run_daemon(self, *flags):
        return subprocess.run([h.Paths.tapstackd, "--tap", TAP, "--metrics-listen", "off",
                               *flags], capture_output=True, text=True, timeout=20,
                              stdin=subprocess.DEVNULL, start_new_session=True)

    def assert_one_line_error(self, result, returncode, *fragments):
        lines = result.stderr.strip().splitlines()
        self.assertEqual(result.returncode, returncode, result.stderr)
        self.assertEqual(len(lines), 1, result.stderr)
        for fragment in fragments:
            self.assertIn(fragment, lines[0])

    def test_encrypted_key_is_refused_without_a_prompt(self):
        directory = tempfile.mkdtemp(prefix="tapstack-e2e-key-")
        self.addCleanup(subprocess.run, ["rm", "-rf", directory])
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-keyout", "key.pem", "-passout",
                        "pass:secret", "-out", "cert.pem", "-days", "2", "-subj", "/CN=e2e"],
                       cwd=directory, check=True, capture_output=True)
        result = self.run_daemon("--grpc-tls-cert", os.path.join(directory, "cert.pem"),
                                 "--grpc-tls-key", os.path.join(directory, "key.pem"))
        self.assert_one_line_error(result, 1, "--grpc-tls-key", "encrypted")

    def test_plaintext_off_loopback_needs_an_explicit_flag(self):
        self.assert_one_line_error(self.run_daemon("--grpc-listen", "0.0.0.0:50052"), 2,
                                   "--grpc-allow-insecure")
        with h.Daemon("--grpc-allow-insecure", tap=TAP, grpc_listen="0.0.0.0:50052") as daemon:
            daemon.grpc_listen = "127.0.0.1:50052"  # where the test reaches it
            daemon.start()
        with h.Daemon(tap=TAP, grpc_listen="unix:" + tempfile.mktemp(prefix="tapstack-e2e-")) \
                as daemon:
            daemon.start()

    def test_out_of_range_flags(self):
        for flags in (["--synack-retries", "21"], ["--syn-retries", "128"], ["--backlog", "0"],
                      ["--grpc-max-calls", "0"], ["--grpc-watch-buffer", "100"],
                      ["--loop-stall-timeout", "10"]):
            with self.subTest(flags=flags):
                self.assert_one_line_error(self.run_daemon(*flags), 2, flags[0])

    def test_out_of_range_tunables_over_grpc(self):
        with h.Daemon(tap=TAP) as daemon:
            daemon.start()
            stubs = daemon.stubs()
            p = h.protos()
            for field, value in (("syn_retries", 0), ("syn_retries", 128),
                                 ("synack_retries", 21)):
                request = p.stack_pb2.UpdateConfigRequest()
                getattr(request.tunables, field).value = value
                with self.subTest(field=field, value=value), \
                        self.assertRaises(grpc.RpcError) as caught:
                    stubs.stack.UpdateConfig(request, timeout=5)
                self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            e = stubs.endpoints.CreateEndpoint(p.endpoints_pb2.CreateEndpointRequest(), timeout=5)
            stubs.endpoints.Bind(p.endpoints_pb2.BindRequest(id=e.id, port=9000), timeout=5)
            for backlog, syn_backlog in ((0, None), (65536, None), (8, 0), (8, (1 << 20) + 1)):
                request = p.endpoints_pb2.ListenRequest(id=e.id)
                request.backlog.value = backlog
                if syn_backlog is not None:
                    request.syn_backlog.value = syn_backlog
                with self.subTest(backlog=backlog, syn_backlog=syn_backlog), \
                        self.assertRaises(grpc.RpcError) as caught:
                    stubs.endpoints.Listen(request, timeout=5)
                self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)


if __name__ == "__main__":
    h.run()
