#!/usr/bin/env python3
"""End to end: TCP keepalive set over gRPC (Endpoints.SetKeepalive) on connections whose peer
is the Linux kernel. A live kernel answers the probes, so the connection stays; a kernel that
has lost its address (a peer gone dark) answers nothing, and the connection is reset after
`count` probes with a TIMED_OUT event."""

import unittest

import grpc
from google.protobuf import duration_pb2

import harness as h

KEEPALIVE_TAP = "tse2eka"
PORT = 7300


class Keepalive(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = h.Daemon(tap=KEEPALIVE_TAP)
        cls.daemon.__enter__()
        try:
            cls.daemon.start()
            h.configure_kernel_side(KEEPALIVE_TAP)
        except BaseException:
            cls.daemon.__exit__(*__import__("sys").exc_info())
            raise
        cls.pb = h.protos().endpoints_pb2
        stubs = cls.daemon.stubs()
        cls.endpoints = stubs.endpoints
        listener = cls.endpoints.CreateEndpoint(cls.pb.CreateEndpointRequest(), timeout=5)
        cls.endpoints.Bind(cls.pb.BindRequest(id=listener.id, port=PORT), timeout=5)
        cls.endpoints.Listen(cls.pb.ListenRequest(id=listener.id), timeout=5)
        cls.listener_id = listener.id

    @classmethod
    def tearDownClass(cls):
        cls.daemon.__exit__(None, None, None)

    def keepalive(self, idle, interval, count):
        return self.pb.Keepalive(idle=duration_pb2.Duration(seconds=idle),
                                 interval=duration_pb2.Duration(seconds=interval), count=count)

    def set_keepalive(self, endpoint_id, keepalive=None):
        request = self.pb.SetKeepaliveRequest(id=endpoint_id)
        if keepalive is not None:
            request.keepalive.CopyFrom(keepalive)
        return self.endpoints.SetKeepalive(request, timeout=5)

    def accepted(self):
        client = h.kernel_connect(PORT)
        self.addCleanup(client.close)
        conn = self.endpoints.Accept(self.pb.AcceptRequest(id=self.listener_id), timeout=5)
        return client, conn

    def state(self, endpoint_id):
        try:
            return self.endpoints.GetEndpoint(self.pb.GetEndpointRequest(id=endpoint_id),
                                              timeout=5).state
        except grpc.RpcError as e:
            self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND)
            return None

    def test_a_live_peer_answers_the_probes(self):
        _, conn = self.accepted()
        shown = self.set_keepalive(conn.id, self.keepalive(1, 1, 2))
        self.assertEqual(shown.keepalive.idle.seconds, 1)
        self.assertEqual(shown.keepalive.count, 2)
        before = self.daemon.stubs().stack.GetStats(h.protos().stack_pb2.GetStatsRequest(),
                                                    timeout=5)
        # Long enough for several probes, each answered by the kernel's ACK.
        h.poll("three keepalive probes", lambda: self.counter("keepalive_probes_sent") >=
               self.counter_in(before, "keepalive_probes_sent") + 3, timeout=15)
        self.assertEqual(self.state(conn.id), self.pb.TCP_STATE_ESTABLISHED)
        self.set_keepalive(conn.id)  # off
        self.assertFalse(self.endpoints.GetEndpoint(self.pb.GetEndpointRequest(id=conn.id),
                                                    timeout=5).HasField("keepalive"))
        self.endpoints.Close(self.pb.CloseRequest(id=conn.id, abort=True), timeout=5)

    def test_a_dark_peer_is_reset_after_count_probes(self):
        events = self.endpoints.WatchEvents(self.pb.WatchEventsRequest(), timeout=30)
        _, conn = self.accepted()
        self.set_keepalive(conn.id, self.keepalive(1, 1, 2))
        # The kernel forgets its address: the probes reach no socket and get no answer.
        h.run_ip("addr", "del", f"{h.KERNEL_ADDRESS}/{h.PREFIX}", "dev", KEEPALIVE_TAP)
        self.addCleanup(h.configure_kernel_side, KEEPALIVE_TAP)
        timed_out = False
        for message in events:
            e = message.event
            if e.endpoint_id == conn.id and e.kind == self.pb.EndpointEvent.KIND_TIMED_OUT:
                timed_out = True
                break
        events.cancel()
        self.assertTrue(timed_out)
        h.poll("the connection released", lambda: self.state(conn.id) in (
            None, self.pb.TCP_STATE_CLOSED))

    def test_values_outside_linuxs_limits_are_invalid_argument(self):
        for bad in (self.keepalive(0, 1, 1), self.keepalive(1, 32768, 1),
                    self.keepalive(1, 1, 0), self.keepalive(1, 1, 128)):
            with self.assertRaises(grpc.RpcError) as caught:
                self.set_keepalive(self.listener_id, bad)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        with self.assertRaises(grpc.RpcError) as caught:
            self.set_keepalive(999999, self.keepalive(1, 1, 1))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)

    def counter(self, name):
        stats = self.daemon.stubs().stack.GetStats(h.protos().stack_pb2.GetStatsRequest(),
                                                   timeout=5)
        return self.counter_in(stats, name)

    @staticmethod
    def counter_in(stats, name):
        return next(c.value for c in stats.counters if c.name == name)


if __name__ == "__main__":
    h.run()
