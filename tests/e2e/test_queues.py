#!/usr/bin/env python3
"""End to end: tapstackd with two engine loops on a two-queue TAP (--queues 2). Kernel clients
connect from many ports; the steering program spreads their flows over both queues, and each
loop owns the connections its queue carries. The control plane shows one listener (a group of
two replicas), accepts from both loops, connects from both, and a closed listener resets what
both had queued."""

import socket
import unittest

import grpc

import harness as h

TAP = "tse2q0"  # does not exist: the daemon creates it, multi-queue
PORT = 8080
KERNEL_PORT = 9100


class TwoQueues(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = h.started_class_daemon("--queues", "2", "--backlog", "128", tap=TAP)
        cls.pb = h.protos().endpoints_pb2
        cls.endpoints = cls.daemon.stubs().endpoints

    @classmethod
    def tearDownClass(cls):
        cls.daemon.__exit__(None, None, None)

    def listener(self, port):
        e = self.endpoints.CreateEndpoint(self.pb.CreateEndpointRequest(), timeout=5)
        self.endpoints.Bind(self.pb.BindRequest(id=e.id, port=port), timeout=5)
        listener = self.endpoints.Listen(self.pb.ListenRequest(id=e.id), timeout=5)
        self.addCleanup(self.close_quietly, e.id)
        return listener

    def close_quietly(self, endpoint_id, abort=False):
        try:
            self.endpoints.Close(self.pb.CloseRequest(id=endpoint_id, abort=abort), timeout=5)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.NOT_FOUND:
                raise

    def get(self, endpoint_id):
        return self.endpoints.GetEndpoint(self.pb.GetEndpointRequest(id=endpoint_id), timeout=5)

    def kernel_clients(self, n):
        socks = [h.kernel_connect(PORT) for _ in range(n)]
        for s in socks:
            self.addCleanup(s.close)
        return socks

    def test_startup_line_names_the_queues(self):
        self.assertIn("2 queues and loops", self.daemon.log())

    def test_connections_spread_over_both_loops_and_every_one_is_accepted(self):
        listener = self.listener(PORT)
        before = h.scrape()
        socks = self.kernel_clients(64)
        h.poll("64 connections queued over both loops",
               lambda: self.get(listener.id).listener.accept_queue_depth == 64)
        accepted = [self.endpoints.Accept(self.pb.AcceptRequest(id=listener.id), timeout=5)
                    for _ in range(64)]
        for c in accepted:
            self.addCleanup(self.close_quietly, c.id, True)
        self.assertEqual(sorted(c.remote.port for c in accepted),
                         sorted(s.getsockname()[1] for s in socks))
        # An endpoint's id names its loop (id % 2): both loops accepted some.
        self.assertEqual({c.id % 2 for c in accepted}, {0, 1})
        after = h.scrape()
        for queue in ("0", "1"):
            name = f'tapstack_loop_frames_received_total{{queue="{queue}"}}'
            self.assertGreater(after[name] - before.get(name, 0), 0, name)
        # One listener, not one per loop, with the limits it was given.
        listeners = self.endpoints.ListEndpoints(
            self.pb.ListEndpointsRequest(state=self.pb.TCP_STATE_LISTEN), timeout=5).endpoints
        self.assertEqual([e.id for e in listeners], [listener.id])
        self.assertEqual(listeners[0].listener.accept_queue_limit, 128)
        self.assertEqual(listeners[0].listener.accept_queue_depth, 0)

    def test_stream_accept_takes_from_both_loops(self):
        listener = self.listener(PORT + 1)
        socks = [h.kernel_connect(PORT + 1) for _ in range(32)]
        for s in socks:
            self.addCleanup(s.close)
        stream = self.endpoints.StreamAccept(
            self.pb.StreamAcceptRequest(id=listener.id, max_connections=32), timeout=10)
        got = [c for message in stream for c in message.connections]
        for c in got:
            self.addCleanup(self.close_quietly, c.id, True)
        self.assertEqual(len(got), 32)
        self.assertEqual({c.id % 2 for c in got}, {0, 1})

    def test_active_opens_from_both_loops(self):
        server = h.kernel_listener(KERNEL_PORT, backlog=32)
        self.addCleanup(server.close)
        ids = []
        for _ in range(8):  # new endpoints go to the loops in turn
            e = self.endpoints.CreateEndpoint(self.pb.CreateEndpointRequest(), timeout=5)
            ids.append(e.id)
            self.addCleanup(self.close_quietly, e.id, True)
            remote = self.pb.SocketAddress(address=h.KERNEL_ADDRESS, port=KERNEL_PORT)
            conn = self.endpoints.Connect(self.pb.ConnectRequest(id=e.id, remote=remote),
                                          timeout=10)
            self.assertEqual(conn.state, self.pb.TCP_STATE_ESTABLISHED)
        self.assertEqual({i % 2 for i in ids}, {0, 1})
        peers = []
        for _ in ids:
            conn, _ = server.accept()
            peers.append(conn)
            self.addCleanup(conn.close)
        self.assertEqual(len(peers), 8)

    def test_a_bound_endpoint_connects_from_the_loop_its_flow_steers_to(self):
        server = h.kernel_listener(KERNEL_PORT + 1, backlog=32)
        self.addCleanup(server.close)
        for port in range(41000, 41008):  # whichever loop each tuple steers to
            e = self.endpoints.CreateEndpoint(self.pb.CreateEndpointRequest(), timeout=5)
            self.addCleanup(self.close_quietly, e.id, True)
            self.endpoints.Bind(self.pb.BindRequest(id=e.id, port=port), timeout=5)
            remote = self.pb.SocketAddress(address=h.KERNEL_ADDRESS, port=KERNEL_PORT + 1)
            conn = self.endpoints.Connect(self.pb.ConnectRequest(id=e.id, remote=remote),
                                          timeout=10)
            self.assertEqual((conn.state, conn.local.port), (self.pb.TCP_STATE_ESTABLISHED, port))
            self.assertEqual(self.get(e.id).state, self.pb.TCP_STATE_ESTABLISHED)
            peer, address = server.accept()
            self.addCleanup(peer.close)
            self.assertEqual(address[1], port)

    def test_a_connect_on_a_listener_is_refused_and_leaves_every_loop_listening(self):
        listener = self.listener(PORT + 3)
        remote = self.pb.SocketAddress(address=h.KERNEL_ADDRESS, port=KERNEL_PORT)
        with self.assertRaises(grpc.RpcError) as caught:
            self.endpoints.Connect(self.pb.ConnectRequest(id=listener.id, remote=remote),
                                   timeout=5)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        socks = [h.kernel_connect(PORT + 3) for _ in range(32)]  # flows to both loops
        for s in socks:
            self.addCleanup(s.close)
        h.poll("32 connections queued over both loops",
               lambda: self.get(listener.id).listener.accept_queue_depth == 32)

    def test_a_port_bound_in_one_loop_is_taken_in_all(self):
        first = self.endpoints.CreateEndpoint(self.pb.CreateEndpointRequest(), timeout=5)
        self.addCleanup(self.close_quietly, first.id)
        self.endpoints.Bind(self.pb.BindRequest(id=first.id, port=42000), timeout=5)
        for _ in range(2):  # one new endpoint in each loop
            e = self.endpoints.CreateEndpoint(self.pb.CreateEndpointRequest(), timeout=5)
            self.addCleanup(self.close_quietly, e.id)
            with self.assertRaises(grpc.RpcError) as caught:
                self.endpoints.Bind(self.pb.BindRequest(id=e.id, port=42000), timeout=5)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.ALREADY_EXISTS)
            self.assertEqual(self.get(e.id).state, self.pb.TCP_STATE_INITIAL)

    def test_closing_the_listener_resets_what_both_loops_queued(self):
        listener = self.listener(PORT + 2)
        socks = [h.kernel_connect(PORT + 2) for _ in range(32)]
        for s in socks:
            self.addCleanup(s.close)
        h.poll("32 connections queued",
               lambda: self.get(listener.id).listener.accept_queue_depth == 32)
        self.endpoints.Close(self.pb.CloseRequest(id=listener.id), timeout=5)
        self.assertEqual([h.wait_closed_by_peer(s) for s in socks], ["rst"] * 32)
        with self.assertRaises(grpc.RpcError) as caught:
            self.get(listener.id)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_icmp_errors_reach_the_loop_of_the_connection_they_quote(self):
        # A daemon of its own, with the kernel as its gateway (the class's has none) on a TAP
        # and subnet of its own. The kernel routes 198.19.0.0/24 to `unreachable`, so it answers
        # each SYN there with ICMP host unreachable, which quotes the SYN; the steering program
        # must hand it to the loop that owns the connection, or that Connect waits out its SYN
        # retries. Four Connects: within the burst of the kernel router's limit on errors per
        # source (net.ipv4.route.error_burst, 5), once the second limit, which would spend the
        # same source's tokens again, is lifted for unreachables in this namespace.
        tap, subnet = "tse2q1", "198.18.1"
        daemon = h.Daemon("--queues", "2", "--gateway", f"{subnet}.1", tap=tap,
                          address=f"{subnet}.2/24", grpc_listen="127.0.0.1:50052",
                          metrics_listen="127.0.0.1:9465")
        daemon.__enter__()
        self.addCleanup(daemon.__exit__, None, None, None)
        daemon.start()
        h.run_ip("addr", "add", f"{subnet}.1/24", "dev", tap)
        h.run_ip("link", "set", tap, "up")

        def sysctl(name, value=None):  # this namespace's
            with open(f"/proc/sys/net/ipv4/{name}", "r" if value is None else "w") as f:
                return int(f.read()) if value is None else f.write(str(value))

        sysctl(f"conf/{tap}/forwarding", 1)
        mask = sysctl("icmp_ratemask")
        sysctl("icmp_ratemask", mask & ~(1 << 3))  # no icmp_ratelimit for unreachables
        self.addCleanup(sysctl, "icmp_ratemask", mask)
        h.run_ip("route", "add", "unreachable", "198.19.0.0/24")
        self.addCleanup(h.run_ip, "route", "del", "unreachable", "198.19.0.0/24", check=False)
        endpoints = daemon.stubs().endpoints
        ids = []
        for i in range(4):  # new endpoints go to the loops in turn
            e = endpoints.CreateEndpoint(self.pb.CreateEndpointRequest(), timeout=5)
            ids.append(e.id)
            remote = self.pb.SocketAddress(address=f"198.19.0.{10 + i}", port=80)
            # Within 3 s, not the two minutes of SYN retries: DEADLINE_EXCEEDED otherwise.
            with self.assertRaises(grpc.RpcError) as caught:
                endpoints.Connect(self.pb.ConnectRequest(id=e.id, remote=remote), timeout=3)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE,
                             f"endpoint {e.id}: {caught.exception.details()}")
            self.assertIn("host unreachable (ICMP)", caught.exception.details())
            state = endpoints.GetEndpoint(self.pb.GetEndpointRequest(id=e.id), timeout=5).state
            self.assertEqual(state, self.pb.TCP_STATE_CLOSED)
        self.assertEqual({i % 2 for i in ids}, {0, 1})


if __name__ == "__main__":
    h.run()
