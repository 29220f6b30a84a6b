#!/usr/bin/env python3
"""End to end: the Endpoints and Stack services of a real tapstackd, driven by a Python gRPC
client, with Linux kernel sockets as the TCP peers through the TAP. Every documented status
code is provoked; server reflection is used the way grpcurl uses it."""

import random
import threading
import time
import unittest

import grpc
from google.protobuf import duration_pb2

import harness as h

LIFECYCLE_TAP = "tse2e0"  # does not exist: the daemon creates it


class Lifecycle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = h.Daemon("--max-endpoints", "128", "--backlog", "8", tap=LIFECYCLE_TAP)
        cls.daemon.__enter__()
        try:
            cls.daemon.start()
            h.configure_kernel_side(LIFECYCLE_TAP)
        except BaseException:
            cls.daemon.__exit__(*__import__("sys").exc_info())
            raise
        p = h.protos()
        cls.pb = p.endpoints_pb2
        cls.spb = p.stack_pb2
        stubs = cls.daemon.stubs()
        cls.endpoints = stubs.endpoints
        cls.stack = stubs.stack

    @classmethod
    def tearDownClass(cls):
        cls.daemon.__exit__(None, None, None)

    # --- helpers

    def create(self):
        return self.endpoints.CreateEndpoint(self.pb.CreateEndpointRequest(), timeout=5)

    def close_later(self, endpoint_id):
        """Closes the endpoint after the test unless the test closed it already."""
        def close():
            try:
                self.endpoints.Close(self.pb.CloseRequest(id=endpoint_id), timeout=5)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.NOT_FOUND:
                    raise
        self.addCleanup(close)

    def listener(self, port, backlog=None, syn_backlog=None):
        e = self.create()
        self.close_later(e.id)
        self.endpoints.Bind(self.pb.BindRequest(id=e.id, port=port), timeout=5)
        request = self.pb.ListenRequest(id=e.id)
        if backlog is not None:
            request.backlog.value = backlog
        if syn_backlog is not None:
            request.syn_backlog.value = syn_backlog
        return self.endpoints.Listen(request, timeout=5)

    def get(self, endpoint_id):
        return self.endpoints.GetEndpoint(self.pb.GetEndpointRequest(id=endpoint_id), timeout=5)

    def accept(self, listener_id, timeout=5.0):
        return self.endpoints.Accept(self.pb.AcceptRequest(id=listener_id), timeout=timeout)

    def connect(self, endpoint_id, address, port, timeout=10.0):
        remote = self.pb.SocketAddress(address=address, port=port)
        return self.endpoints.Connect(self.pb.ConnectRequest(id=endpoint_id, remote=remote),
                                      timeout=timeout)

    def expect(self, code, rpc, request, timeout=5.0):
        with self.assertRaises(grpc.RpcError) as caught:
            rpc(request, timeout=timeout)
        self.assertEqual(caught.exception.code(), code, caught.exception.details())
        return caught.exception

    def kernel_connect(self, port):
        sock = h.kernel_connect(port)
        self.addCleanup(sock.close)
        return sock

    def wait_accept_queue(self, listener_id, depth):
        h.poll(f"accept queue of {listener_id} to hold {depth}",
               lambda: self.get(listener_id).listener.accept_queue_depth == depth)

    def all_endpoints(self, **filters):
        return list(self.endpoints.ListEndpoints(self.pb.ListEndpointsRequest(**filters),
                                                 timeout=5).endpoints)

    # --- lifecycle

    def test_passive_open_accept_and_graceful_close(self):
        listener = self.listener(8080, backlog=4, syn_backlog=2)
        self.assertEqual(listener.state, self.pb.TCP_STATE_LISTEN)
        self.assertEqual(listener.name, f"endpoints/{listener.id}")
        self.assertEqual((listener.local.address, listener.local.port), ("0.0.0.0", 8080))
        self.assertEqual(listener.listener.accept_queue_limit, 4)
        self.assertEqual(listener.listener.syn_queue_limit, 2)

        sock = self.kernel_connect(8080)
        self.wait_accept_queue(listener.id, 1)
        conn = self.accept(listener.id)
        self.assertEqual(conn.state, self.pb.TCP_STATE_ESTABLISHED)
        self.assertEqual((conn.remote.address, conn.remote.port), sock.getsockname())
        self.assertEqual(conn.local.port, 8080)
        c = conn.connection
        self.assertEqual(c.listener_id, listener.id)
        self.assertEqual(c.mss, 1460)  # the kernel offers 1460 on a 1500-byte TAP
        self.assertTrue(c.HasField("send_window_scale") and c.HasField("receive_window_scale"))
        self.assertTrue(c.sack_permitted and c.timestamps and not c.from_syn_cookie)
        self.assertEqual(self.get(listener.id).listener.accept_queue_depth, 0)

        ids = [e.id for e in self.all_endpoints()]
        self.assertIn(conn.id, ids)
        self.assertEqual([e.id for e in self.all_endpoints(state=self.pb.TCP_STATE_LISTEN)],
                         [listener.id])
        paged, token = [], ""
        for _ in range(len(ids) + 1):  # bounded: one endpoint per page
            page = self.endpoints.ListEndpoints(
                self.pb.ListEndpointsRequest(page_size=1, page_token=token), timeout=5)
            paged += [e.id for e in page.endpoints]
            token = page.next_page_token
            if not token:
                break
        self.assertEqual(paged, ids)

        self.endpoints.Close(self.pb.CloseRequest(id=conn.id), timeout=5)
        self.assertEqual(h.wait_closed_by_peer(sock), "fin")
        self.expect(grpc.StatusCode.NOT_FOUND, self.endpoints.GetEndpoint,
                    self.pb.GetEndpointRequest(id=conn.id))

    def test_active_open_and_abort(self):
        server = h.kernel_listener(9000)
        self.addCleanup(server.close)
        endpoint = self.create()
        self.close_later(endpoint.id)
        self.endpoints.Bind(self.pb.BindRequest(id=endpoint.id, port=40000), timeout=5)
        conn = self.connect(endpoint.id, h.KERNEL_ADDRESS, 9000)
        self.assertEqual(conn.state, self.pb.TCP_STATE_ESTABLISHED)
        self.assertEqual((conn.local.port, conn.remote.port), (40000, 9000))
        self.assertEqual(conn.connection.listener_id, 0)
        self.assertTrue(conn.connection.timestamps and conn.connection.sack_permitted)
        peer, address = server.accept()
        self.addCleanup(peer.close)
        self.assertEqual(address, (h.ENGINE_ADDRESS, 40000))
        self.endpoints.Close(self.pb.CloseRequest(id=endpoint.id, abort=True), timeout=5)
        self.assertEqual(h.wait_closed_by_peer(peer), "rst")

    def test_ephemeral_port_connect(self):
        server = h.kernel_listener(9001)
        self.addCleanup(server.close)
        endpoint = self.create()
        self.close_later(endpoint.id)
        conn = self.connect(endpoint.id, h.KERNEL_ADDRESS, 9001)
        self.assertTrue(32768 <= conn.local.port <= 60999, conn.local.port)
        peer, _ = server.accept()
        peer.close()

    # --- status codes

    def test_not_found(self):
        missing = 987654321
        pb = self.pb
        for i, (rpc, request) in enumerate([
            (self.endpoints.GetEndpoint, pb.GetEndpointRequest(id=missing)),
            (self.endpoints.Bind, pb.BindRequest(id=missing, port=1)),
            (self.endpoints.Listen, pb.ListenRequest(id=missing)),
            (self.endpoints.Connect, pb.ConnectRequest(
                id=missing, remote=pb.SocketAddress(address=h.KERNEL_ADDRESS, port=1))),
            (self.endpoints.Accept, pb.AcceptRequest(id=missing)),
            (self.endpoints.Close, pb.CloseRequest(id=missing)),
        ]):
            with self.subTest(case=i):
                e = self.expect(grpc.StatusCode.NOT_FOUND, rpc, request)
                self.assertIn(str(missing), e.details())
        with self.assertRaises(grpc.RpcError) as caught:
            next(self.endpoints.StreamAccept(pb.StreamAcceptRequest(id=missing), timeout=5))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_invalid_argument(self):
        pb, spb = self.pb, self.spb
        e = self.create()
        self.close_later(e.id)
        bound = self.create()
        self.close_later(bound.id)
        self.endpoints.Bind(pb.BindRequest(id=bound.id, port=8090), timeout=5)
        cases = [
            ("id 0", self.endpoints.GetEndpoint, pb.GetEndpointRequest(id=0)),
            ("port > 65535", self.endpoints.Bind, pb.BindRequest(id=e.id, port=70000)),
            ("malformed address", self.endpoints.Bind,
             pb.BindRequest(id=e.id, address="198.18.0", port=80)),
            ("not our address", self.endpoints.Bind,
             pb.BindRequest(id=e.id, address="198.18.0.7", port=80)),
            ("backlog 0", self.endpoints.Listen, self.listen_request(bound.id, backlog=0)),
            ("backlog > 65535", self.endpoints.Listen,
             self.listen_request(bound.id, backlog=70000)),
            ("syn_backlog 0", self.endpoints.Listen,
             self.listen_request(bound.id, backlog=4, syn_backlog=0)),
            ("remote port 0", self.endpoints.Connect, pb.ConnectRequest(
                id=e.id, remote=pb.SocketAddress(address=h.KERNEL_ADDRESS, port=0))),
            ("no remote address", self.endpoints.Connect, pb.ConnectRequest(
                id=e.id, remote=pb.SocketAddress(port=80))),
            ("connect to ourselves", self.endpoints.Connect, pb.ConnectRequest(
                id=e.id, remote=pb.SocketAddress(address=h.ENGINE_ADDRESS, port=80))),
            ("connect to multicast", self.endpoints.Connect, pb.ConnectRequest(
                id=e.id, remote=pb.SocketAddress(address="224.0.0.1", port=80))),
            ("page token", self.endpoints.ListEndpoints,
             pb.ListEndpointsRequest(page_token="not-a-token")),
            ("syn_retries 0", self.stack.UpdateConfig, self.tunables(syn_retries=0)),
            ("syn_retries 128", self.stack.UpdateConfig, self.tunables(syn_retries=128)),
            ("synack_retries 21", self.stack.UpdateConfig, self.tunables(synack_retries=21)),
            ("syncookies 7", self.stack.UpdateConfig,
             spb.UpdateConfigRequest(tunables=spb.Tunables(syncookies=7))),
        ]
        for name, rpc, request in cases:
            with self.subTest(name):
                self.expect(grpc.StatusCode.INVALID_ARGUMENT, rpc, request)
        with self.assertRaises(grpc.RpcError) as caught:
            next(self.endpoints.WatchEvents(pb.WatchEventsRequest(queue_limit=70000), timeout=5))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        # A rejected update changes nothing.
        config = self.stack.GetConfig(spb.GetConfigRequest(), timeout=5)
        self.assertEqual(config.tunables.syn_retries.value, 6)

    def listen_request(self, endpoint_id, backlog=None, syn_backlog=None):
        request = self.pb.ListenRequest(id=endpoint_id)
        if backlog is not None:
            request.backlog.value = backlog
        if syn_backlog is not None:
            request.syn_backlog.value = syn_backlog
        return request

    def tunables(self, **values):
        t = self.spb.Tunables()
        for name, value in values.items():
            getattr(t, name).value = value
        return self.spb.UpdateConfigRequest(tunables=t)

    def test_already_exists(self):
        self.listener(8081)
        other = self.create()
        self.close_later(other.id)
        e = self.expect(grpc.StatusCode.ALREADY_EXISTS, self.endpoints.Bind,
                        self.pb.BindRequest(id=other.id, port=8081))
        self.assertIn("8081", e.details())

    def test_failed_precondition(self):
        fresh = self.create()
        self.close_later(fresh.id)
        self.expect(grpc.StatusCode.FAILED_PRECONDITION, self.endpoints.Listen,
                    self.pb.ListenRequest(id=fresh.id))  # Listen before Bind
        self.expect(grpc.StatusCode.FAILED_PRECONDITION, self.endpoints.Accept,
                    self.pb.AcceptRequest(id=fresh.id))
        listener = self.listener(8082)
        self.expect(grpc.StatusCode.FAILED_PRECONDITION, self.endpoints.Connect,
                    self.pb.ConnectRequest(id=listener.id, remote=self.pb.SocketAddress(
                        address=h.KERNEL_ADDRESS, port=80)))
        self.expect(grpc.StatusCode.FAILED_PRECONDITION, self.endpoints.Bind,
                    self.pb.BindRequest(id=listener.id, port=8083))

    def test_resource_exhausted(self):
        created = []
        try:
            for _ in range(130):  # the table holds 128
                try:
                    created.append(self.create().id)
                except grpc.RpcError as e:
                    self.assertEqual(e.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
                    self.assertIn("128", e.details())
                    break
            else:
                self.fail("the endpoint table never filled up")
        finally:
            for endpoint_id in created:
                self.endpoints.Close(self.pb.CloseRequest(id=endpoint_id), timeout=5)

    def test_refused_is_unavailable(self):
        endpoint = self.create()
        self.close_later(endpoint.id)
        with self.assertRaises(grpc.RpcError) as caught:
            self.connect(endpoint.id, h.KERNEL_ADDRESS, 9)  # nothing listens: the kernel RSTs
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertIn("refused", caught.exception.details())
        self.assertEqual(self.get(endpoint.id).state, self.pb.TCP_STATE_CLOSED)

    def test_handshake_timeout_is_deadline_exceeded(self):
        config = self.stack.UpdateConfig(self.tunables(syn_retries=1), timeout=5)
        self.assertEqual(config.tunables.syn_retries.value, 1)
        self.addCleanup(self.stack.UpdateConfig, self.tunables(syn_retries=6), timeout=5)
        endpoint = self.create()
        self.close_later(endpoint.id)
        started = time.monotonic()
        with self.assertRaises(grpc.RpcError) as caught:
            # Nobody has 198.18.0.99: ARP fails, the SYN and its one retry go unanswered.
            self.connect(endpoint.id, "198.18.0.99", 80, timeout=30)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertIn("SYN retransmissions", caught.exception.details())
        self.assertGreater(time.monotonic() - started, 2.5)  # SYN at 0 s, retry at 1 s, 3 s

    def test_call_deadline_while_connecting(self):
        endpoint = self.create()
        self.close_later(endpoint.id)
        with self.assertRaises(grpc.RpcError) as caught:
            self.connect(endpoint.id, "198.18.0.98", 80, timeout=0.5)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertEqual(self.get(endpoint.id).state, self.pb.TCP_STATE_SYN_SENT)

    # --- Accept

    def test_accept_deadline_keeps_connection(self):
        listener = self.listener(8084)
        with self.assertRaises(grpc.RpcError) as caught:
            self.accept(listener.id, timeout=0.3)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        h.poll("the timed-out Accept to be forgotten",
               lambda: self.get(listener.id).listener.accept_waiters == 0)
        sock = self.kernel_connect(8084)
        conn = self.accept(listener.id)
        self.assertEqual(conn.remote.port, sock.getsockname()[1])

    def test_accept_never_loses_a_connection(self):
        """Accepts with short deadlines race connections arriving at random moments: every
        connection must be returned by an Accept or still be in the queue afterwards, never
        taken by an Accept that then gave up."""
        listener = self.listener(8085, backlog=64)
        count = 30
        sockets = []
        done = threading.Event()
        rng = random.Random(4)

        def connect_all():
            try:
                for _ in range(count):
                    done.wait(rng.uniform(0, 0.05))  # pacing the arrivals, not synchronising
                    sockets.append(h.kernel_connect(8085))
            finally:
                done.set()

        worker = threading.Thread(target=connect_all)
        worker.start()
        accepted = []
        client_side_expiries = 0  # the client's timer fired first: the outcome is unknown
        deadlines = [0.02, 0.03, 0.045, 0.06]
        started = time.monotonic()
        try:
            for attempt in range(2000):
                if done.is_set() or time.monotonic() - started > 30:
                    break
                try:
                    accepted.append(self.accept(listener.id, deadlines[attempt % 4]).id)
                except grpc.RpcError as e:
                    self.assertEqual(e.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
                    if "before a connection arrived" not in e.details():
                        client_side_expiries += 1
        finally:
            worker.join(timeout=30)
        self.assertEqual(len(sockets), count)
        # What the racing Accepts did not get must still be queued: drain it.
        h.poll("the connections to be established",
               lambda: self.get(listener.id).listener.accept_queue_depth + len(accepted)
               >= count - client_side_expiries)
        while self.get(listener.id).listener.accept_queue_depth > 0:
            accepted.append(self.accept(listener.id).id)
        self.assertEqual(len(set(accepted)), len(accepted))
        mine = {e.id for e in self.all_endpoints()
                if e.HasField("connection") and e.connection.listener_id == listener.id}
        self.assertLessEqual(set(accepted), mine)
        # A connection not returned could only be one whose reply lost the race against the
        # client's own timer (the server answers early to make that rare).
        self.assertLessEqual(len(mine - set(accepted)), client_side_expiries)
        self.assertEqual(len(mine), count)
        for s in sockets:
            s.close()
        for endpoint_id in mine:
            self.endpoints.Close(self.pb.CloseRequest(id=endpoint_id, abort=True), timeout=5)

    def test_accept_aborted_when_listener_closes(self):
        listener = self.listener(8086)
        pending = self.endpoints.Accept.future(self.pb.AcceptRequest(id=listener.id), timeout=10)
        h.poll("the Accept to wait", lambda: self.get(listener.id).listener.accept_waiters == 1)
        self.endpoints.Close(self.pb.CloseRequest(id=listener.id), timeout=5)
        self.assertEqual(pending.exception(timeout=5).code(), grpc.StatusCode.ABORTED)

    def test_stream_accept_closes_and_ends_after_max(self):
        listener = self.listener(8087, backlog=16)
        stream = self.endpoints.StreamAccept(self.pb.StreamAcceptRequest(
            id=listener.id, after_accept=self.pb.StreamAcceptRequest.AFTER_ACCEPT_CLOSE,
            max_connections=3), timeout=20)
        stream.initial_metadata()  # the stream is registered
        sockets = [self.kernel_connect(8087) for _ in range(3)]
        got = [e for message in stream for e in message.connections]  # ends after three
        self.assertEqual(len(got), 3)
        self.assertEqual(sorted(e.remote.port for e in got),
                         sorted(s.getsockname()[1] for s in sockets))
        self.assertTrue(all(e.state == self.pb.TCP_STATE_ESTABLISHED for e in got))
        self.assertEqual(stream.code(), grpc.StatusCode.OK)
        for s in sockets:
            self.assertEqual(h.wait_closed_by_peer(s), "fin")
        for e in got:
            self.expect(grpc.StatusCode.NOT_FOUND, self.endpoints.GetEndpoint,
                        self.pb.GetEndpointRequest(id=e.id))

    def test_stream_accept_keeps_and_ends_with_listener(self):
        listener = self.listener(8088, backlog=16)
        stream = self.endpoints.StreamAccept(self.pb.StreamAcceptRequest(id=listener.id),
                                             timeout=20)
        stream.initial_metadata()
        sock = self.kernel_connect(8088)
        message = next(stream)
        self.assertEqual(len(message.connections), 1)
        conn = message.connections[0]
        self.close_later(conn.id)
        self.assertEqual(self.get(conn.id).state, self.pb.TCP_STATE_ESTABLISHED)
        self.assertEqual(conn.remote.port, sock.getsockname()[1])
        self.endpoints.Close(self.pb.CloseRequest(id=listener.id), timeout=5)
        self.assertEqual(list(stream), [])
        self.assertEqual(stream.code(), grpc.StatusCode.OK)

    def test_stream_accept_max_delay_batches_and_is_bounded(self):
        listener = self.listener(8089, backlog=16)
        with self.assertRaises(grpc.RpcError) as caught:
            next(self.endpoints.StreamAccept(self.pb.StreamAcceptRequest(
                id=listener.id, max_delay=duration_pb2.Duration(seconds=1)), timeout=5))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        # With the longest delay, three connections made back to back share one message.
        stream = self.endpoints.StreamAccept(self.pb.StreamAcceptRequest(
            id=listener.id, after_accept=self.pb.StreamAcceptRequest.AFTER_ACCEPT_CLOSE,
            max_connections=3, max_delay=duration_pb2.Duration(nanos=100_000_000)), timeout=20)
        stream.initial_metadata()
        sockets = [self.kernel_connect(8089) for _ in range(3)]
        messages = list(stream)
        self.assertEqual(sum(len(m.connections) for m in messages), 3)
        self.assertLess(len(messages), 3)
        for s in sockets:
            self.assertEqual(h.wait_closed_by_peer(s), "fin")

    def test_stream_accept_needs_a_listener(self):
        e = self.create()
        self.close_later(e.id)
        with self.assertRaises(grpc.RpcError) as caught:
            next(self.endpoints.StreamAccept(self.pb.StreamAcceptRequest(id=e.id), timeout=5))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)

    # --- WatchEvents

    def watch(self, **request):
        stream = self.endpoints.WatchEvents(self.pb.WatchEventsRequest(**request), timeout=60)
        self.addCleanup(stream.cancel)
        stream.initial_metadata()  # registered: every event from now on reaches it
        return stream

    def read_until(self, stream, predicate, limit=10000):
        items = []
        for item in stream:
            items.append(item)
            if predicate(item) or len(items) >= limit:
                return items
        self.fail("the event stream ended early")

    def test_watch_events(self):
        K = self.pb.EndpointEvent
        stream = self.watch()
        listener = self.listener(8089)
        sock = self.kernel_connect(8089)
        conn = self.accept(listener.id)
        self.endpoints.Close(self.pb.CloseRequest(id=conn.id), timeout=5)
        refused = self.create()
        self.close_later(refused.id)
        with self.assertRaises(grpc.RpcError):
            self.connect(refused.id, h.KERNEL_ADDRESS, 9)
        items = self.read_until(stream, lambda i: i.event.kind == K.KIND_REFUSED)
        events = [i.event for i in items if i.HasField("event")]
        seen = {(e.kind, e.endpoint_id) for e in events}
        self.assertIn((K.KIND_STATE_CHANGED, listener.id), seen)
        self.assertIn((K.KIND_CONNECTION_READY, conn.id), seen)
        self.assertIn((K.KIND_ACCEPTED, conn.id), seen)
        self.assertIn((K.KIND_REFUSED, refused.id), seen)
        established = [e for e in events if e.kind == K.KIND_ESTABLISHED
                       and e.endpoint_id == conn.id]
        self.assertEqual(len(established), 1)
        self.assertEqual(established[0].listener_id, listener.id)
        duration = established[0].handshake_duration
        self.assertGreater(duration.seconds * 10**9 + duration.nanos, 0)
        self.assertIn(self.pb.TCP_STATE_FIN_WAIT_1,
                      [e.state for e in events if e.endpoint_id == conn.id])
        sequences = [e.sequence for e in events]
        self.assertEqual(sequences, sorted(sequences))
        sock.close()

    def test_watch_reports_lost_events(self):
        """A watcher with room for one event, and a burst of ~60 events in one engine turn
        (a listener closed with 30 queued connections, each reset and released): the watcher
        must be told exactly how many it lost, where it lost them."""
        stream = self.watch(queue_limit=1)
        listener = self.listener(8091, backlog=40)
        sockets = [self.kernel_connect(8091) for _ in range(30)]
        self.wait_accept_queue(listener.id, 30)
        self.endpoints.Close(self.pb.CloseRequest(id=listener.id), timeout=5)
        marker = self.create()
        self.close_later(marker.id)
        self.endpoints.Bind(self.pb.BindRequest(id=marker.id, port=8092), timeout=5)
        items = self.read_until(stream, lambda i: i.HasField("event")
                                and i.event.endpoint_id == marker.id)
        lost = sum(i.lost.count for i in items if i.HasField("lost"))
        self.assertGreater(lost, 0)
        # Every sequence number between two delivered events was delivered or counted as lost.
        previous, lost_since = None, 0
        for item in items:
            if item.HasField("lost"):
                lost_since += item.lost.count
                continue
            if previous is not None:
                self.assertEqual(item.event.sequence - previous - 1, lost_since)
            previous, lost_since = item.event.sequence, 0
        for s in sockets:
            self.assertEqual(h.wait_closed_by_peer(s), "rst")  # reset with their listener

    # --- Stack

    def test_config_and_stats(self):
        spb = self.spb
        config = self.stack.GetConfig(spb.GetConfigRequest(), timeout=5)
        self.assertEqual(config.tap, LIFECYCLE_TAP)
        self.assertEqual(config.address, f"{h.ENGINE_ADDRESS}/{h.PREFIX}")
        self.assertEqual(config.max_endpoints, 128)
        self.assertEqual(config.default_backlog, 8)
        self.assertEqual(config.tunables.syncookies, spb.SYN_COOKIE_MODE_AUTO)
        updated = self.stack.UpdateConfig(spb.UpdateConfigRequest(tunables=spb.Tunables(
            syncookies=spb.SYN_COOKIE_MODE_ALWAYS)), timeout=5)
        self.addCleanup(self.stack.UpdateConfig, spb.UpdateConfigRequest(
            tunables=spb.Tunables(syncookies=spb.SYN_COOKIE_MODE_AUTO)), timeout=5)
        self.assertEqual(updated.tunables.syncookies, spb.SYN_COOKIE_MODE_ALWAYS)
        self.assertEqual(updated.tunables.synack_retries.value, 5)  # untouched

        # syncookies=always: a kernel connection completes from a cookie.
        listener = self.listener(8093)
        before = self.counters()
        cookies_before = self.cookies_sent(8093)
        sock = self.kernel_connect(8093)
        conn = self.accept(listener.id)
        self.assertTrue(conn.connection.from_syn_cookie)
        self.assertTrue(conn.connection.timestamps and conn.connection.sack_permitted)
        after = self.counters()
        self.assertEqual(self.cookies_sent(8093) - cookies_before, 1)
        self.assertEqual(after["syncookies_validated"] - before["syncookies_validated"], 1)
        self.assertEqual(after["passive_opens"] - before["passive_opens"], 1)
        sock.close()
        self.close_later(conn.id)

        stats = self.stack.GetStats(spb.GetStatsRequest(), timeout=5)
        self.assertIn("accept_queue_full", [d.name for d in stats.drops])
        self.assertTrue(all(c.help for c in stats.counters))
        states = {s.state: s.count for s in stats.endpoints}
        self.assertEqual(len(states), 13)
        self.assertGreaterEqual(states[self.pb.TCP_STATE_LISTEN], 1)

    def counters(self):
        stats = self.stack.GetStats(self.spb.GetStatsRequest(), timeout=5)
        return {c.name: c.value for c in stats.counters}

    def cookies_sent(self, port):
        """Cookie SYN-ACKs for `port`: the engine's (all ports: the test makes one connection at
        a time) and the kernel cookie path's (README, Kernel cookie path)."""
        stats = self.stack.GetStats(self.spb.GetStatsRequest(), timeout=5)
        engine = next(c.value for c in stats.counters if c.name == "syncookies_sent")
        return engine + sum(l.synacks for l in stats.kernel_cookie_listeners if l.port == port)

    # --- reflection, the way grpcurl works without .proto files

    def test_reflection(self):
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
        r = h.protos().reflection_pb2
        stub = h.protos().reflection_pb2_grpc.ServerReflectionStub(self.daemon.channel())

        def ask(**request):
            responses = stub.ServerReflectionInfo(iter([r.ServerReflectionRequest(**request)]),
                                                  timeout=5)
            return next(responses)

        services = {s.name for s in ask(list_services="").list_services_response.service}
        self.assertLessEqual({"tapstack.v1.Endpoints", "tapstack.v1.Stack",
                              "grpc.health.v1.Health",
                              "grpc.reflection.v1alpha.ServerReflection"}, services)
        files = [descriptor_pb2.FileDescriptorProto.FromString(b) for b in ask(
            file_containing_symbol="tapstack.v1.Endpoints"
        ).file_descriptor_response.file_descriptor_proto]
        pool = descriptor_pool.DescriptorPool()
        added = set()
        for _ in range(len(files)):  # dependencies first
            for f in files:
                if f.name not in added and all(d in added for d in f.dependency):
                    pool.Add(f)
                    added.add(f.name)
        self.assertIn("tapstack/v1/endpoints.proto", added)
        factory = message_factory.MessageFactory(pool)
        service = pool.FindServiceByName("tapstack.v1.Endpoints")
        method = service.methods_by_name["ListEndpoints"]
        request_class = factory.GetPrototype(method.input_type)
        response_class = factory.GetPrototype(method.output_type)
        call = self.daemon.channel().unary_unary(
            "/tapstack.v1.Endpoints/ListEndpoints",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_class.FromString)
        listener = self.listener(8094)
        response = call(request_class(), timeout=5)
        self.assertIn(listener.id, [e.id for e in response.endpoints])


if __name__ == "__main__":
    h.run()
