#!/usr/bin/env python3
"""End to end: the data path over gRPC (Read, Write, Shutdown, ReadStream, WriteStream), the
demo listener's echo mode, tapstackctl's netcat verbs, and what GetEndpoint and `tapstackctl ls
-i` report of a connection after a transfer, SetOptions (no-delay and the user timeout) and the
final figures WatchEvents carries, with the Linux kernel as the TCP peer through the TAP in the
test's own namespace.

Every transfer is checked byte-exact with SHA-256. Flow control is checked from both ends: a
ReadStream whose client does not read leaves the bytes in the engine's receive buffer, whose
window closes (the kernel sender's queue holds the rest), and the daemon's memory does not grow
with what the kernel still has to send."""

import fcntl
import hashlib
import json
import os
import socket
import struct
import subprocess
import threading

import grpc
from google.protobuf import duration_pb2, wrappers_pb2

import harness as h

TAP = "tse2edata"
ECHO_PORT = 7000
KERNEL_PORT = 7400
OPTIONS_PORT = 7401  # a listener of ours whose options its connections inherit
MAX_MESSAGE = 256 * 1024  # kMaxDataMessage
SIOCOUTQ = 0x5411  # TIOCOUTQ: bytes in a socket's send queue, unsent and unacknowledged


def send_queue(sock):
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), SIOCOUTQ, b"\0\0\0\0"))[0]


def recv_exactly(sock, n):
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(1 << 20, n - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_all(sock):
    chunks = []
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def ms(n):
    return duration_pb2.Duration(seconds=n // 1000, nanos=(n % 1000) * 1_000_000)


def reading(receive, *args, **kwargs):
    """Runs receive(*args) in a thread, as a peer reads while we write: TCP's buffers hold
    less than the test sends. Returns a function that waits for and returns what it read."""
    result = {}
    thread = threading.Thread(target=lambda: result.update(data=receive(*args, **kwargs)))
    thread.start()

    def done():
        thread.join(timeout=60)
        return result["data"]
    return done


class Data(h.DaemonAndKernelPeerCase):
    TAP = TAP
    DAEMON_FLAGS = ("--demo-listener", str(ECHO_PORT), "--demo-mode", "echo")
    KERNEL_PORT = KERNEL_PORT

    # --- helpers

    def read(self, endpoint_id, max_bytes=MAX_MESSAGE, timeout=10):
        return self.endpoints.Read(self.pb.ReadRequest(id=endpoint_id, max_bytes=max_bytes),
                                   timeout=timeout)

    def read_until_eof(self, endpoint_id):
        chunks = []
        while True:
            r = self.read(endpoint_id)
            if r.eof:
                return b"".join(chunks)
            self.assertTrue(r.data, "a Read answers data or eof")
            chunks.append(r.data)

    def write_all(self, endpoint_id, data):
        done = 0
        while done < len(data):
            w = self.endpoints.Write(self.pb.WriteRequest(
                id=endpoint_id, data=data[done:done + MAX_MESSAGE]), timeout=10)
            self.assertGreater(w.bytes_written, 0)
            done += w.bytes_written

    def expect_code(self, code, call, *args, **kwargs):
        with self.assertRaises(grpc.RpcError) as caught:
            result = call(*args, **kwargs)
            if hasattr(result, "__iter__") and not isinstance(result, (bytes, str)):
                list(result)
        self.assertEqual(caught.exception.code(), code, caught.exception.details())
        return caught.exception.details()

    def buffered(self, endpoint_id):
        e = self.endpoints.GetEndpoint(self.pb.GetEndpointRequest(id=endpoint_id), timeout=5)
        return e.connection.bytes_buffered

    # --- the demo listener

    def test_echo_demo_returns_a_kernel_clients_bytes_byte_exact(self):
        payload = os.urandom(4 << 20)
        client = h.kernel_connect(ECHO_PORT)
        client.settimeout(60)
        self.addCleanup(client.close)

        def send():
            client.sendall(payload)
            client.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        echoed = recv_all(client)  # ends with the engine's FIN, after everything echoed
        sender.join(timeout=60)
        self.assertEqual(len(echoed), len(payload))
        self.assertEqual(hashlib.sha256(echoed).hexdigest(), hashlib.sha256(payload).hexdigest())

    # --- unary calls against a kernel server

    def test_write_read_and_shutdown_against_a_kernel_server(self):
        endpoint_id, peer = self.connect()
        outbound = os.urandom(1 << 20)
        received = reading(recv_exactly, peer, len(outbound))
        self.write_all(endpoint_id, outbound)
        received = received()
        self.assertEqual(hashlib.sha256(received).digest(), hashlib.sha256(outbound).digest())

        # Half-close: after our Shutdown the kernel reads the end of the stream and can still
        # send, and what it sends is read up to its own FIN.
        self.endpoints.Shutdown(self.pb.ShutdownRequest(id=endpoint_id), timeout=5)
        self.assertEqual(peer.recv(1), b"")
        inbound = os.urandom(1 << 20)
        got = reading(self.read_until_eof, endpoint_id)
        peer.sendall(inbound)
        peer.shutdown(socket.SHUT_WR)
        got = got()
        self.assertEqual(hashlib.sha256(got).digest(), hashlib.sha256(inbound).digest())
        # End of stream stays end of stream.
        self.assertTrue(self.read(endpoint_id).eof)
        self.expect_code(grpc.StatusCode.FAILED_PRECONDITION, self.endpoints.Write,
                         self.pb.WriteRequest(id=endpoint_id, data=b"x"), timeout=5)

    def test_a_read_waits_for_data_and_takes_at_most_max_bytes(self):
        endpoint_id, peer = self.connect()
        answer = {}
        reader = threading.Thread(target=lambda: answer.update(r=self.read(endpoint_id, 3)))
        reader.start()
        peer.sendall(b"hello")
        reader.join(timeout=10)
        self.assertEqual(answer["r"].data, b"hel")
        self.assertEqual(self.read(endpoint_id).data, b"lo")

    # --- status codes

    def test_status_codes(self):
        unknown = 999_999
        self.expect_code(grpc.StatusCode.NOT_FOUND, self.read, unknown, timeout=5)
        self.expect_code(grpc.StatusCode.NOT_FOUND, self.endpoints.Write,
                         self.pb.WriteRequest(id=unknown, data=b"x"), timeout=5)
        self.expect_code(grpc.StatusCode.NOT_FOUND, self.endpoints.Shutdown,
                         self.pb.ShutdownRequest(id=unknown), timeout=5)
        self.expect_code(grpc.StatusCode.NOT_FOUND, self.endpoints.ReadStream,
                         self.pb.ReadStreamRequest(id=unknown), timeout=5)

        listener = self.endpoints.CreateEndpoint(self.pb.CreateEndpointRequest(), timeout=5)
        self.addCleanup(self.close_quietly, listener.id)
        self.endpoints.Bind(self.pb.BindRequest(id=listener.id, port=7401), timeout=5)
        self.endpoints.Listen(self.pb.ListenRequest(id=listener.id), timeout=5)
        self.expect_code(grpc.StatusCode.FAILED_PRECONDITION, self.read, listener.id, timeout=5)
        self.expect_code(grpc.StatusCode.FAILED_PRECONDITION, self.endpoints.Write,
                         self.pb.WriteRequest(id=listener.id, data=b"x"), timeout=5)
        self.expect_code(grpc.StatusCode.FAILED_PRECONDITION, self.endpoints.ReadStream,
                         self.pb.ReadStreamRequest(id=listener.id), timeout=5)

        endpoint_id, peer = self.connect()
        self.expect_code(grpc.StatusCode.INVALID_ARGUMENT, self.read, endpoint_id, 0)
        self.expect_code(grpc.StatusCode.INVALID_ARGUMENT, self.read, endpoint_id,
                         MAX_MESSAGE + 1)
        self.expect_code(grpc.StatusCode.INVALID_ARGUMENT, self.endpoints.Write,
                         self.pb.WriteRequest(id=endpoint_id, data=bytes(MAX_MESSAGE + 1)),
                         timeout=5)
        self.expect_code(grpc.StatusCode.INVALID_ARGUMENT, self.read, 0)
        # Nothing arrives: the deadline passes, and the bytes sent afterwards are not lost.
        self.expect_code(grpc.StatusCode.DEADLINE_EXCEEDED, self.read, endpoint_id, timeout=0.5)
        peer.sendall(b"after")
        self.assertEqual(self.read(endpoint_id).data, b"after")

        # The kernel resets the connection (SO_LINGER 0): UNAVAILABLE, saying so.
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()
        details = self.expect_code(grpc.StatusCode.UNAVAILABLE, self.read, endpoint_id,
                                   timeout=5)
        self.assertIn("reset", details)

    def test_a_read_waiting_when_another_call_closes_the_endpoint_is_aborted(self):
        endpoint_id, _ = self.connect()
        errors = []

        def wait():
            try:
                self.read(endpoint_id, timeout=10)
            except grpc.RpcError as e:
                errors.append(e.code())

        reader = threading.Thread(target=wait)
        reader.start()
        h.poll("the Read to wait", lambda: reader.is_alive(), timeout=2)
        self.endpoints.Close(self.pb.CloseRequest(id=endpoint_id), timeout=5)
        reader.join(timeout=10)
        self.assertIn(errors[0], (grpc.StatusCode.ABORTED, grpc.StatusCode.NOT_FOUND))

    # --- streams and flow control

    def test_a_slow_stream_reader_closes_the_receive_window(self):
        endpoint_id, peer = self.connect()
        payload = os.urandom(32 << 20)
        rss_before = h.rss_kib(self.daemon.process.pid)
        stream = self.endpoints.ReadStream(self.pb.ReadStreamRequest(id=endpoint_id),
                                           timeout=120)
        sender = threading.Thread(target=peer.sendall, args=(payload,))
        sender.start()
        # Nobody reads the stream: the engine's receive buffer fills and stays full...
        samples = []

        def full_and_steady():
            samples.append(self.buffered(endpoint_id))
            return len(samples) >= 5 and samples[-1] > 0 and len(set(samples[-5:])) == 1

        h.poll("the receive buffer to fill and stay full", full_and_steady, timeout=30,
               interval=0.2)
        # ...the window is closed, so the kernel holds what it could not send...
        self.assertTrue(sender.is_alive())
        unsent = send_queue(peer)
        self.assertGreater(unsent, 256 * 1024, "the kernel's send queue should hold the rest")
        # ...and the daemon holds about a receive buffer and a few messages, not the payload.
        grown_kib = h.rss_kib(self.daemon.process.pid) - rss_before
        self.assertLess(grown_kib, 16 * 1024, f"tapstackd grew by {grown_kib} KiB")
        print(f"\n  window closed: bytes_buffered {samples[-1]}, kernel send queue {unsent}, "
              f"tapstackd RSS +{grown_kib} KiB", flush=True)

        # Reading reopens the window: everything arrives, in order.
        got = bytearray()
        for message in stream:
            got += message.data
            if len(got) >= len(payload):
                break
        sender.join(timeout=60)
        stream.cancel()
        self.assertEqual(hashlib.sha256(bytes(got)).digest(), hashlib.sha256(payload).digest())

    def test_write_stream_is_held_back_by_the_send_buffer(self):
        endpoint_id, peer = self.connect()
        payload = os.urandom(16 << 20)
        chunk = 64 * 1024
        yielded = [0]

        def messages():
            for at in range(0, len(payload), chunk):
                yielded[0] = at + chunk
                yield self.pb.WriteStreamRequest(id=endpoint_id,
                                                 data=payload[at:at + chunk])

        answer = {}
        writer = threading.Thread(target=lambda: answer.update(
            r=self.endpoints.WriteStream(messages(), timeout=120)))
        writer.start()
        # The kernel does not read: the writer stops well short of the payload.
        samples = []

        def stalled():
            samples.append(yielded[0])
            return len(samples) >= 5 and len(set(samples[-5:])) == 1

        h.poll("the writer to be held back", stalled, timeout=30, interval=0.2)
        self.assertLess(yielded[0], len(payload) // 2,
                        "the stream took far more than the buffers hold")
        received = recv_exactly(peer, len(payload))
        writer.join(timeout=60)
        self.assertEqual(answer["r"].bytes_written, len(payload))
        self.assertEqual(hashlib.sha256(received).digest(), hashlib.sha256(payload).digest())

    # --- what GetEndpoint and `tapstackctl ls -i` say about a connection

    def connection_status(self, endpoint_id):
        return self.endpoints.GetEndpoint(self.pb.GetEndpointRequest(id=endpoint_id),
                                          timeout=5).connection

    def test_get_endpoint_and_ctl_ls_i_report_a_transfer(self):
        endpoint_id, peer = self.connect()
        outbound = os.urandom(1 << 20)
        received = reading(recv_exactly, peer, len(outbound))
        self.write_all(endpoint_id, outbound)
        self.assertEqual(len(received()), len(outbound))
        # The kernel has read everything; its last ACK may still be on the way.
        h.poll("every byte to be acknowledged",
               lambda: self.connection_status(endpoint_id).bytes_acked == len(outbound))
        inbound = os.urandom(1000)
        peer.sendall(inbound)
        h.poll("the kernel's bytes to arrive",
               lambda: self.connection_status(endpoint_id).bytes_received == len(inbound))

        c = self.connection_status(endpoint_id)
        self.assertEqual(c.bytes_in_flight, 0)
        self.assertEqual(c.bytes_unsent, 0)
        self.assertEqual(c.bytes_buffered, len(inbound))
        self.assertEqual(c.out_of_order_bytes, 0)
        self.assertGreater(c.srtt.ToNanoseconds(), 0)
        self.assertGreaterEqual(c.rto.ToMilliseconds(), 200)  # Linux's minimum RTO
        self.assertEqual(c.congestion_control, "cubic")
        self.assertGreater(c.cwnd, 0)
        self.assertEqual(c.send_mss, 1448)  # MSS 1460 less the timestamp option
        self.assertGreater(c.send_window, 0)
        self.assertGreater(c.receive_window, 0)
        self.assertFalse(c.in_recovery)

        table = self.ctl_output("ls", "-i").splitlines()
        at = next(i for i, line in enumerate(table) if line.split()[0] == str(endpoint_id))
        details = table[at + 1]
        print(f"\n  {table[at]}\n  {details}", flush=True)
        self.assertRegex(
            details,
            r"^\tcubic rtt:\d+\.\d{3}/\d+\.\d{3} rto:\d+ mss:1448 cwnd:\d+ ssthresh:(-|\d+) "
            rf"bytes_acked:{len(outbound)} bytes_received:{len(inbound)} retrans:0/\d+ "
            r"unacked:0 unsent:0 send_wnd:\d+ rcv_wnd:\d+$")
        # Without -i, the table alone.
        self.assertNotIn("\tcubic", self.ctl_output("ls"))

        # The exporter counts the data too (the daemon is shared: at least this transfer), and
        # exports the retransmission and receive-side counters, untouched or not.
        metrics = h.scrape()
        self.assertGreaterEqual(metrics["tapstack_data_bytes_sent_total"], len(outbound))
        self.assertGreaterEqual(metrics["tapstack_data_segments_sent_total"],
                                len(outbound) // 1448)
        for counter in ("data_segments_retransmitted", "retransmit_timeouts", "fast_retransmits",
                        "rack_lost_segments", "rack_reorder_timeouts", "tlp_probes_sent",
                        "data_timeouts", "zero_window_probes_sent", "delayed_acks_sent",
                        "out_of_order_segments", "aborts_on_close"):
            self.assertIn(f"tapstack_{counter}_total", metrics)
        self.assertIn('tapstack_dropped_packets_total{reason="out_of_order_dropped"}', metrics)

    def ctl_output(self, *args):
        result = subprocess.run([h.Paths.tapstackctl, *args], capture_output=True, text=True,
                                timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    # --- tapstackctl

    def test_ctl_nc_copies_both_ways_and_half_closes(self):
        payload = os.urandom(2 << 20)
        ctl = subprocess.Popen([h.Paths.tapstackctl, "nc", f"{h.KERNEL_ADDRESS}:{KERNEL_PORT}"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        peer, _ = self.kernel.accept()
        peer.settimeout(30)
        self.addCleanup(peer.close)
        reply = os.urandom(1 << 20)
        result = {}
        ctl_io = threading.Thread(target=lambda: result.update(
            out=ctl.communicate(payload, timeout=60)))
        ctl_io.start()
        # stdin's end is the connection's FIN: the kernel reads all of it, then answers.
        got = recv_all(peer)
        peer.sendall(reply)
        peer.close()
        ctl_io.join(timeout=60)
        out, err = result["out"]
        self.assertEqual(ctl.returncode, 0, err)
        self.assertEqual(hashlib.sha256(got).digest(), hashlib.sha256(payload).digest())
        self.assertEqual(hashlib.sha256(out).digest(), hashlib.sha256(reply).digest())

    def test_ctl_cat_and_send(self):
        endpoint_id, peer = self.connect()
        payload = os.urandom(1 << 20)
        received = reading(recv_all, peer)  # to the FIN that `send` ends with
        sent = subprocess.run([h.Paths.tapstackctl, "send", str(endpoint_id)],
                              input=payload, capture_output=True, timeout=60)
        self.assertEqual(sent.returncode, 0, sent.stderr)
        self.assertEqual(hashlib.sha256(received()).digest(), hashlib.sha256(payload).digest())
        reply = os.urandom(1 << 20)
        cat = reading(subprocess.run, [h.Paths.tapstackctl, "cat", str(endpoint_id)],
                      capture_output=True, timeout=60)
        peer.sendall(reply)
        peer.shutdown(socket.SHUT_WR)
        cat = cat()
        self.assertEqual(cat.returncode, 0, cat.stderr)
        self.assertEqual(hashlib.sha256(cat.stdout).digest(), hashlib.sha256(reply).digest())


    # --- SetOptions, and the figures WatchEvents carries

    def set_options(self, endpoint_id, no_delay=None, user_timeout=None):
        request = self.pb.SetOptionsRequest(id=endpoint_id)
        if no_delay is not None:
            request.no_delay.CopyFrom(wrappers_pb2.BoolValue(value=no_delay))
        if user_timeout is not None:
            request.user_timeout.CopyFrom(user_timeout)
        return self.endpoints.SetOptions(request, timeout=5)

    def watch(self):
        """A WatchEvents stream the daemon has registered: it sees what the test does next."""
        stream = self.endpoints.WatchEvents(self.pb.WatchEventsRequest(), timeout=60)
        stream.initial_metadata()
        self.addCleanup(stream.cancel)
        return stream

    def events_until(self, stream, endpoint_id, kind):
        """The events about endpoint_id, up to and including the first of `kind`."""
        seen = []
        for message in stream:
            self.assertFalse(message.HasField("lost"), "the watcher lost events")
            if message.event.endpoint_id == endpoint_id:
                seen.append(message.event)
                if message.event.kind == kind:
                    return seen
        self.fail(f"the stream ended before {kind} about {endpoint_id}: {seen}")

    def test_set_options_statuses_and_values_shown(self):
        endpoint_id, _ = self.connect()
        invalid = grpc.StatusCode.INVALID_ARGUMENT
        self.expect_code(grpc.StatusCode.NOT_FOUND, self.set_options, 999999, no_delay=True)
        self.expect_code(invalid, self.set_options, 0, no_delay=True)
        self.assertIn("nothing to set", self.expect_code(invalid, self.set_options, endpoint_id))
        self.expect_code(invalid, self.set_options, endpoint_id, user_timeout=ms(-1))
        self.expect_code(invalid, self.set_options, endpoint_id, user_timeout=ms(2**31))
        shown = self.set_options(endpoint_id, user_timeout=ms(2**31 - 1))  # Linux's INT_MAX ms
        self.assertEqual(shown.user_timeout.ToMilliseconds(), 2**31 - 1)
        self.assertFalse(shown.no_delay)
        shown = self.set_options(endpoint_id, no_delay=True)  # the timeout stays as it was
        self.assertTrue(shown.no_delay)
        self.assertEqual(shown.user_timeout.ToMilliseconds(), 2**31 - 1)
        shown = self.set_options(endpoint_id, user_timeout=ms(0))  # off
        self.assertFalse(shown.HasField("user_timeout"))
        self.assertTrue(self.endpoints.GetEndpoint(
            self.pb.GetEndpointRequest(id=endpoint_id), timeout=5).no_delay)

    def test_a_listeners_options_reach_its_connections_and_ctl_sets_and_shows_them(self):
        listener = self.endpoints.CreateEndpoint(self.pb.CreateEndpointRequest(), timeout=5)
        self.addCleanup(self.close_quietly, listener.id)
        self.endpoints.Bind(self.pb.BindRequest(id=listener.id, port=OPTIONS_PORT), timeout=5)
        self.endpoints.Listen(self.pb.ListenRequest(id=listener.id), timeout=5)
        shown = self.set_options(listener.id, no_delay=True, user_timeout=ms(30_000))
        self.assertTrue(shown.no_delay)
        self.assertEqual(shown.user_timeout.ToMilliseconds(), 30_000)
        client = h.kernel_connect(OPTIONS_PORT)
        self.addCleanup(client.close)
        conn = self.endpoints.Accept(self.pb.AcceptRequest(id=listener.id), timeout=5)
        self.addCleanup(self.close_quietly, conn.id)
        self.assertTrue(conn.no_delay)
        self.assertEqual(conn.user_timeout.ToMilliseconds(), 30_000)

        table = self.ctl_output("ls", "-i").splitlines()
        at = next(i for i, line in enumerate(table) if line.split()[0] == str(conn.id))
        self.assertTrue(table[at + 1].endswith(" nodelay user_timeout:30000"), table[at + 1])
        changed = json.loads(self.ctl_output("-o", "json", "set", str(conn.id), "--nodelay", "off",
                                             "--user-timeout", "500ms"))
        self.assertFalse(changed["no_delay"])
        self.assertEqual(changed["user_timeout"], "0.500s")
        result = subprocess.run([h.Paths.tapstackctl, "set", str(conn.id)], capture_output=True,
                                text=True, timeout=30)
        self.assertEqual(result.returncode, 64, result.stderr)  # EX_USAGE: nothing to set
        # The listener's own stay: only its future connections take them.
        self.assertTrue(self.endpoints.GetEndpoint(
            self.pb.GetEndpointRequest(id=listener.id), timeout=5).no_delay)

    def test_a_peer_that_stops_reading_is_given_up_after_the_user_timeout(self):
        stream = self.watch()
        endpoint_id, peer = self.connect()  # the kernel never reads: its window shuts
        self.set_options(endpoint_id, user_timeout=ms(1500))
        written = 0
        while True:  # until the send buffer is full behind the shut window (or it timed out)
            try:
                w = self.endpoints.Write(self.pb.WriteRequest(
                    id=endpoint_id, data=bytes(MAX_MESSAGE)), timeout=1)
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.DEADLINE_EXCEEDED, e.details())
                break
            written += w.bytes_written
            if w.bytes_written < MAX_MESSAGE:
                break
        events = self.events_until(stream, endpoint_id, self.pb.EndpointEvent.KIND_TIMED_OUT)
        figures = events[-1].connection
        self.assertGreater(figures.bytes_acked, 0)  # what the kernel's buffer took
        self.assertLess(figures.bytes_acked, written)
        self.assertIn("timed out", self.expect_code(grpc.StatusCode.DEADLINE_EXCEEDED, self.read,
                                                    endpoint_id))
        self.assertGreaterEqual(h.scrape()["tapstack_data_timeouts_total"], 1)

    def test_watch_events_carry_a_closed_connections_final_figures(self):
        stream = self.watch()
        endpoint_id, peer = self.connect()
        outbound, inbound = os.urandom(300_000), os.urandom(3000)
        received = reading(recv_exactly, peer, len(outbound))
        self.write_all(endpoint_id, outbound)
        self.assertEqual(len(received()), len(outbound))
        peer.sendall(inbound)
        got = b""
        while len(got) < len(inbound):  # read: a close with unread data would reset
            got += self.read(endpoint_id).data
        h.poll("every byte to be acknowledged",
               lambda: self.connection_status(endpoint_id).bytes_acked == len(outbound))
        self.endpoints.Close(self.pb.CloseRequest(id=endpoint_id), timeout=5)  # our FIN
        peer.close()  # the kernel's: ours ends in TIME-WAIT, and the endpoint is released
        events = self.events_until(stream, endpoint_id, self.pb.EndpointEvent.KIND_RELEASED)
        states = [e.state for e in events if e.kind == self.pb.EndpointEvent.KIND_STATE_CHANGED]
        self.assertIn(self.pb.TCP_STATE_TIME_WAIT, states)
        for last in (events[-1], next(e for e in events if e.state == self.pb.TCP_STATE_TIME_WAIT)):
            self.assertTrue(last.HasField("connection"), last)
            c = last.connection
            self.assertEqual(c.bytes_acked, len(outbound))
            self.assertEqual(c.bytes_received, len(inbound))
            self.assertGreater(c.srtt.ToNanoseconds(), 0)
            self.assertGreater(c.cwnd, 0)

if __name__ == "__main__":
    h.run()
