#!/usr/bin/env python3
"""End to end: bulk transfers with the Linux kernel as the TCP peer through the TAP, in the
test's own namespace: 256 MB each way through the demo listener's echo, connections in
parallel, half-close both ways, resets in the middle of transfers from either side, and the
same transfers over an impaired link (tapstack_impair: a tc BPF program on the TAP that drops,
duplicates and reorders segments carrying data at random), after which the daemon's recovery
counters must show fast retransmits rather than timeouts.

Every transfer is checked byte-exact with SHA-256, streamed: the data is generated and hashed
in 1 MiB chunks on both sides, so 256 MB never sits in memory. Every transfer has a deadline."""

import hashlib
import os
import random
import socket
import struct
import subprocess
import threading
import time

import grpc

import harness as h

TAP = "tse2excfr"
ECHO_PORT = 7000
KERNEL_PORT = 7500
CHUNK = 1 << 20
MAX_MESSAGE = 256 * 1024  # kMaxDataMessage
BIG = 256 << 20  # the 256 MB
BIG_DEADLINE = 120.0  # seconds for the 256 MB echo on the 2-core machine
IMPAIRED = 16 << 20
LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER 0: close() sends RST


def tapstack_impair():
    """tapstack_impair, built next to tapstackd (BUILD/tests/ beside BUILD/server/)."""
    build = os.path.dirname(os.path.dirname(h.Paths.tapstackd))
    path = os.path.join(build, "tests", "tapstack_impair")
    if not os.access(path, os.X_OK):
        raise AssertionError(f"{path} is missing: build the tapstack_impair target")
    return path


def chunks(seed, size):
    """`size` pseudo-random bytes from `seed`, in CHUNK pieces."""
    rng = random.Random(seed)
    for at in range(0, size, CHUNK):
        yield rng.randbytes(min(CHUNK, size - at))


def digest_of(seed, size):
    sha = hashlib.sha256()
    for piece in chunks(seed, size):
        sha.update(piece)
    return sha.hexdigest()


class Worker:
    """Runs fn(*args) in a thread; result() waits at most `timeout` and re-raises its error."""

    def __init__(self, fn, *args):
        self.outcome = {}
        self.thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self.thread.start()

    def _run(self, fn, args):
        try:
            self.outcome["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to result()
            self.outcome["error"] = e

    def result(self, timeout):
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError(f"still running after {timeout:.0f} s")
        if "error" in self.outcome:
            raise self.outcome["error"]
        return self.outcome["value"]


def send_stream(sock, seed, size, shut_write=True):
    """Sends the stream of `seed`, then (by default) half-closes; returns its SHA-256."""
    sha = hashlib.sha256()
    for piece in chunks(seed, size):
        sha.update(piece)
        sock.sendall(piece)
    if shut_write:
        sock.shutdown(socket.SHUT_WR)
    return sha.hexdigest()


def receive_stream(sock, limit=None):
    """Reads to the FIN (or `limit` bytes): (byte count, SHA-256)."""
    sha = hashlib.sha256()
    got = 0
    buffer = bytearray(CHUNK)
    while limit is None or got < limit:
        n = sock.recv_into(buffer, CHUNK if limit is None else min(CHUNK, limit - got))
        if n == 0:
            break
        sha.update(memoryview(buffer)[:n])
        got += n
    return got, sha.hexdigest()


def kernel_echo(sock):
    """A kernel echo server on one connection: sends back what it reads until the FIN, then
    half-closes; returns the bytes echoed."""
    buffer = bytearray(CHUNK)
    total = 0
    while n := sock.recv_into(buffer):
        sock.sendall(memoryview(buffer)[:n])
        total += n
    sock.shutdown(socket.SHUT_WR)
    return total


def fill_send_queue(sock):
    """Sends without blocking until the kernel's send queue is full (bounded)."""
    sock.setblocking(False)
    piece = bytes(CHUNK)
    for _ in range(1024):
        try:
            sock.send(piece)
        except BlockingIOError:
            return
    raise AssertionError("the send queue never filled")


def echo_through_engine(seed, size, deadline):
    """A kernel client sends `size` bytes to the echo listener and reads the echo at the same
    time: (bytes echoed, their SHA-256, the SHA-256 sent, seconds)."""
    client = h.kernel_connect(ECHO_PORT)
    client.settimeout(deadline)
    try:
        start = time.monotonic()
        sender = Worker(send_stream, client, seed, size)
        got, received = receive_stream(client)
        sent = sender.result(deadline)
        return got, received, sent, time.monotonic() - start
    finally:
        client.close()


class Impairment:
    """tapstack_impair on one hook of the TAP while the `with` block runs; .counters after."""

    def __init__(self, direction, loss=0, dup=0, reorder=0):
        self.command = [tapstack_impair(), "--dev", TAP, "--direction", direction,
                        "--loss-permille", str(loss), "--dup-permille", str(dup),
                        "--reorder-permille", str(reorder), "--duration", "300"]
        self.direction = direction
        self.counters = {}

    def __enter__(self):
        if self.direction == "egress":
            # The kernel hands the TAP GSO super-packets (it segments them after tc): one
            # segment per skb, so that each segment draws its own chance.
            shown = h.run_ip("-d", "link", "show", "dev", TAP).stdout.split()
            self.gso_max_segs = shown[shown.index("gso_max_segs") + 1]
            h.run_ip("link", "set", "dev", TAP, "gso_max_segs", "1")
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()  # "attached", or EOF when it failed
        if line.strip() != "attached":
            self.process.wait(timeout=10)
            raise AssertionError(f"tapstack_impair failed: {self.process.stderr.read()}")
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        out, err = self.process.communicate(timeout=10)
        if self.direction == "egress":
            h.run_ip("link", "set", "dev", TAP, "gso_max_segs", self.gso_max_segs)
        if self.process.returncode != 0:
            raise AssertionError(f"tapstack_impair exited {self.process.returncode}: {err}")
        self.counters = {k: int(v) for k, v in (f.split("=") for f in out.split())}
        return False


class TransferCase(h.DaemonAndKernelPeerCase):
    """The daemon, the kernel peer and the helpers both test classes use."""
    TAP = TAP
    # The kernel cookie path is off: it ends classification on the TAP's egress with
    # TC_ACT_OK, and the impairment has to see that hook too.
    DAEMON_FLAGS = ("--demo-listener", str(ECHO_PORT), "--demo-mode", "echo",
                    "--kernel-cookies", "off")
    KERNEL_PORT = KERNEL_PORT
    PEER_TIMEOUT = 60

    # --- helpers

    def read_stream(self, endpoint_id, limit=None):
        """Reads the connection to its end (or `limit` bytes) with unary Reads."""
        sha, got = hashlib.sha256(), 0
        while limit is None or got < limit:
            wanted = MAX_MESSAGE if limit is None else min(MAX_MESSAGE, limit - got)
            r = self.endpoints.Read(self.pb.ReadRequest(id=endpoint_id, max_bytes=wanted),
                                    timeout=30)
            if r.eof:
                break
            sha.update(r.data)
            got += len(r.data)
        return got, sha.hexdigest()

    def write_stream(self, endpoint_id, seed, size, timeout=60):
        def messages():
            for piece in chunks(seed, size):
                for at in range(0, len(piece), MAX_MESSAGE):
                    yield self.pb.WriteStreamRequest(id=endpoint_id,
                                                     data=piece[at:at + MAX_MESSAGE])
        return self.endpoints.WriteStream(messages(), timeout=timeout).bytes_written

    def read_stream_to_end(self, endpoint_id, timeout):
        """ReadStream to the end of the stream: (byte count, SHA-256)."""
        sha, got = hashlib.sha256(), 0
        for message in self.endpoints.ReadStream(
                self.pb.ReadStreamRequest(id=endpoint_id, max_message_bytes=MAX_MESSAGE),
                timeout=timeout):
            sha.update(message.data)
            got += len(message.data)
        return got, sha.hexdigest()

    def counters(self):
        """The daemon's recovery counters from /metrics, by their short names."""
        samples = h.scrape()
        wanted = ("fast_retransmits", "retransmit_timeouts", "rack_lost_segments",
                  "tlp_probes_sent")
        found = {}
        for name, value in samples.items():
            for short in wanted:
                if name in (f"tapstack_{short}_total", f"tapstack_{short}"):
                    found[short] = value
        missing = [w for w in wanted if w not in found]
        self.assertFalse(missing, f"no such counters in /metrics: {missing}")
        return found

    def assert_echo(self, seed, size, deadline):
        try:
            got, received, sent, seconds = echo_through_engine(seed, size, deadline)
        except BaseException:
            # For the diagnosis of a stall: what the engine counted.
            print("\n  tapstackd's counters at the failure:", flush=True)
            for name, value in sorted(h.scrape().items()):
                if value and any(w in name for w in ("retrans", "timeout", "drop", "sack")):
                    print(f"    {name} {value:.0f}", flush=True)
            raise
        self.assertEqual(got, size, "the echo ended short")
        self.assertEqual(received, sent, "the echo differs from what was sent")
        return seconds


class Transfer(TransferCase):
    """Clean link, the TAP with the kernel's offloads (the default): the kernel's segments come
    as GSO frames of up to 64 KiB and ours leave as TSO frames the kernel cuts up."""

    # --- clean link

    def test_a_256_mb_echo_each_way_is_byte_exact(self):
        seconds = self.assert_echo(1, BIG, BIG_DEADLINE)
        print(f"\n  256 MiB each way through the echo in {seconds:.1f} s: "
              f"{BIG / seconds / 1e6:.1f} MB/s each way", flush=True)

    def test_eight_connections_in_parallel_are_byte_exact(self):
        size = 16 << 20
        start = time.monotonic()
        workers = [Worker(echo_through_engine, 100 + i, size, 90.0) for i in range(8)]
        for worker in workers:
            got, received, sent, _ = worker.result(120)
            self.assertEqual(got, size)
            self.assertEqual(received, sent)
        seconds = time.monotonic() - start
        print(f"\n  8 x 16 MiB echoed in parallel in {seconds:.1f} s: "
              f"{8 * size / seconds / 1e6:.1f} MB/s each way", flush=True)

    # --- half-close

    def test_the_kernel_half_closes_first_and_still_reads_what_we_send(self):
        endpoint_id, peer = self.connect()
        size = 8 << 20
        sent = Worker(send_stream, peer, 2, size)  # then SHUT_WR
        got, received = self.read_stream(endpoint_id)  # to the kernel's FIN
        self.assertEqual((got, received), (size, sent.result(60)))
        # In CLOSE-WAIT our side still sends, and the kernel reads it all, then our FIN.
        reader = Worker(receive_stream, peer)
        self.assertEqual(self.write_stream(endpoint_id, 3, size), size)
        self.endpoints.Shutdown(self.pb.ShutdownRequest(id=endpoint_id), timeout=5)
        self.assertEqual(reader.result(60), (size, digest_of(3, size)))

    def test_we_half_close_first_and_still_read_what_the_kernel_sends(self):
        endpoint_id, peer = self.connect()
        size = 8 << 20
        reader = Worker(receive_stream, peer)
        self.assertEqual(self.write_stream(endpoint_id, 4, size), size)
        self.endpoints.Shutdown(self.pb.ShutdownRequest(id=endpoint_id), timeout=5)
        self.assertEqual(reader.result(60), (size, digest_of(4, size)))  # ends at our FIN
        # In FIN-WAIT-2 the kernel still sends, and we read it all, then its FIN.
        sent = Worker(send_stream, peer, 5, size)
        self.assertEqual(self.read_stream(endpoint_id), (size, sent.result(60)))

    # --- resets in the middle of a transfer

    def test_a_kernel_reset_mid_transfer_ends_the_connection_and_close_releases_it(self):
        for point in ("while the kernel sends", "while we send", "after our shutdown"):
            with self.subTest(point=point):
                endpoint_id, peer = self.connect()
                if point == "while the kernel sends":
                    reader = Worker(self.read_stream, endpoint_id, 4 << 20)
                    send_stream(peer, 6, 4 << 20, shut_write=False)
                    self.assertEqual(reader.result(30)[0], 4 << 20)
                    fill_send_queue(peer)  # in this thread: close() must be the last user
                elif point == "while we send":
                    writer = Worker(self.write_stream, endpoint_id, 7, 64 << 20)
                    self.assertEqual(receive_stream(peer, limit=4 << 20)[0], 4 << 20)
                else:
                    reader = Worker(receive_stream, peer)  # to our FIN
                    self.assertEqual(self.write_stream(endpoint_id, 8, 4 << 20), 4 << 20)
                    self.endpoints.Shutdown(self.pb.ShutdownRequest(id=endpoint_id), timeout=5)
                    self.assertEqual(reader.result(30), (4 << 20, digest_of(8, 4 << 20)))
                peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
                peer.close()
                if point == "while we send":
                    with self.assertRaises(grpc.RpcError) as caught:
                        writer.result(30)
                    self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE,
                                     caught.exception.details())

                # Reads drain nothing more than what had arrived, then say reset (bounded).
                def reset_reported():
                    try:
                        self.endpoints.Read(self.pb.ReadRequest(id=endpoint_id,
                                                                max_bytes=MAX_MESSAGE),
                                            timeout=5)
                        return False
                    except grpc.RpcError as e:
                        if e.code() != grpc.StatusCode.UNAVAILABLE:
                            raise
                        return e.details()

                self.assertIn("reset", h.poll("Read to report the reset", reset_reported,
                                              timeout=20, interval=0))
                self.endpoints.Close(self.pb.CloseRequest(id=endpoint_id), timeout=5)
                with self.assertRaises(grpc.RpcError) as caught:
                    self.endpoints.GetEndpoint(self.pb.GetEndpointRequest(id=endpoint_id),
                                               timeout=5)
                self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_a_kernel_reset_mid_echo_leaves_the_echo_serving(self):
        for sent_before_reset in (0, 1 << 20, 16 << 20):
            with self.subTest(sent_before_reset=sent_before_reset):
                client = h.kernel_connect(ECHO_PORT)
                client.settimeout(30)
                reader = Worker(receive_stream, client, sent_before_reset)
                send_stream(client, 9, sent_before_reset, shut_write=False)
                self.assertEqual(reader.result(60), (sent_before_reset,
                                                     digest_of(9, sent_before_reset)))
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
                client.close()
        # The echo's connections were reset under it: it serves the next one byte-exact.
        self.assert_echo(10, 4 << 20, 60)

    def test_our_abort_mid_transfer_gives_the_kernel_econnreset(self):
        # While we send: the kernel has read part of it.
        endpoint_id, peer = self.connect()
        writer = Worker(self.write_stream, endpoint_id, 11, 64 << 20)
        self.assertEqual(receive_stream(peer, limit=4 << 20)[0], 4 << 20)
        self.endpoints.Close(self.pb.CloseRequest(id=endpoint_id, abort=True), timeout=5)
        with self.assertRaises(ConnectionResetError):
            receive_stream(peer)
        with self.assertRaises(grpc.RpcError):
            writer.result(30)  # its endpoint is gone
        # While the kernel sends: its next sends fail.
        endpoint_id, peer = self.connect()
        sender = Worker(send_stream, peer, 12, 256 << 20)
        self.assertEqual(self.read_stream(endpoint_id, limit=4 << 20)[0], 4 << 20)
        self.endpoints.Close(self.pb.CloseRequest(id=endpoint_id, abort=True), timeout=5)
        with self.assertRaises((ConnectionResetError, BrokenPipeError)):
            sender.result(30)


class ImpairedTransfer(TransferCase):
    """Impaired link, the TAP without offloads: tapstack_impair acts on each frame, so that its
    loss, duplication and reordering hit single segments as on a real path. With offloads a
    frame is up to 45 segments, and one drop a burst of them, which no link makes."""
    DAEMON_FLAGS = TransferCase.DAEMON_FLAGS + ("--tap-offloads", "off")

    # --- impaired link

    def impaired(self, what, direction, transfer, **impairment):
        """Runs transfer() under the impairment: (its counters, the engine's counter deltas)."""
        before = self.counters()
        with Impairment(direction, **impairment) as link:
            seconds = transfer()
        after = self.counters()
        delta = {k: after[k] - before[k] for k in after}
        print(f"\n  {what}, {direction} {impairment}: 16 MiB in {seconds:.1f} s "
              f"({IMPAIRED / seconds / 1e6:.1f} MB/s); impairment {link.counters}; "
              f"engine: fast retransmits {delta['fast_retransmits']:.0f}, "
              f"RTOs {delta['retransmit_timeouts']:.0f}, "
              f"RACK losses {delta['rack_lost_segments']:.0f}, "
              f"TLP probes {delta['tlp_probes_sent']:.0f}", flush=True)
        return link.counters, delta

    def impaired_echo(self, direction, seed, **impairment):
        return self.impaired("echo", direction,
                             lambda: self.assert_echo(seed, IMPAIRED, 120), **impairment)

    def impaired_send(self, seed, **impairment):
        """We send, the kernel only reads: its ACKs are pure, so three duplicates of one are
        what tells the engine of an isolated loss (the echo's ACKs ride on the kernel's data,
        which RFC 5681 does not count as duplicates; SACK would see those losses)."""
        endpoint_id, peer = self.connect()

        def transfer():
            start = time.monotonic()
            reader = Worker(receive_stream, peer, IMPAIRED)
            self.assertEqual(self.write_stream(endpoint_id, seed, IMPAIRED, 120), IMPAIRED)
            self.assertEqual(reader.result(120), (IMPAIRED, digest_of(seed, IMPAIRED)))
            return time.monotonic() - start

        return self.impaired("one way, we send", "ingress", transfer, **impairment)

    def grpc_echo_through_kernel(self, seed):
        """The issue's end-to-end path: this gRPC client streams a file through tapstackd to a
        kernel echo server and reads the echo back with ReadStream, both at once."""
        endpoint_id, peer = self.connect()
        echo = Worker(kernel_echo, peer)

        def transfer():
            start = time.monotonic()
            reader = Worker(self.read_stream_to_end, endpoint_id, 120)
            self.assertEqual(self.write_stream(endpoint_id, seed, IMPAIRED, 120), IMPAIRED)
            self.endpoints.Shutdown(self.pb.ShutdownRequest(id=endpoint_id), timeout=5)
            self.assertEqual(reader.result(120), (IMPAIRED, digest_of(seed, IMPAIRED)))
            self.assertEqual(echo.result(30), IMPAIRED)
            return time.monotonic() - start

        return transfer

    def test_a_grpc_client_streams_a_file_to_a_kernel_echo_and_back_over_an_impaired_link(self):
        # Both directions impaired: loss, duplication and reordering of our segments as they
        # reach the kernel; loss and duplication of the kernel's as they leave for us (a drop
        # there is one the kernel's own egress reports to it, so it resends without waiting).
        with Impairment("egress", loss=10, dup=10) as egress:
            link, _ = self.impaired("gRPC stream through a kernel echo", "ingress",
                                    self.grpc_echo_through_kernel(26), loss=10, dup=10,
                                    reorder=10)
        print(f"  and egress {egress.counters}", flush=True)
        self.assertGreater(link["dropped"], 0)
        self.assertGreater(egress.counters["dropped"], 0)

    def test_one_percent_loss_of_our_segments_is_repaired_by_fast_retransmit(self):
        link, engine = self.impaired_send(30, loss=10)
        self.assertGreater(link["dropped"], 0)
        self.assertGreater(engine["fast_retransmits"], 0)
        # Isolated losses: repaired by fast retransmit, far more often than by a timeout.
        self.assertGreater(engine["fast_retransmits"], 4 * engine["retransmit_timeouts"])
        link, _ = self.impaired_echo("ingress", 20, loss=10)
        self.assertGreater(link["dropped"], 0)

    def test_five_percent_loss_of_our_segments_still_completes(self):
        link, engine = self.impaired_send(31, loss=50)
        self.assertGreater(link["dropped"], 0)
        self.assertGreater(engine["fast_retransmits"], 0)
        link, _ = self.impaired_echo("ingress", 21, loss=50)
        self.assertGreater(link["dropped"], 0)

    def test_one_percent_loss_of_the_kernels_segments_still_completes(self):
        link, _ = self.impaired_echo("egress", 22, loss=10)
        self.assertGreater(link["dropped"], 0)

    def test_duplication_both_ways_still_completes(self):
        with Impairment("egress", dup=10) as egress:
            link, _ = self.impaired_echo("ingress", 23, dup=10)
        print(f"  and egress {egress.counters}", flush=True)
        self.assertGreater(link["duplicated"], 0)
        self.assertGreater(egress.counters["duplicated"], 0)

    def test_reordering_of_our_segments_still_completes(self):
        link, _ = self.impaired_echo("ingress", 24, reorder=10)
        self.assertGreater(link["reordered"], 0)
        self.assertGreater(link["released"], 0)

    def test_loss_duplication_and_reordering_together_still_complete(self):
        with Impairment("egress", loss=5, dup=5) as egress:
            link, _ = self.impaired_echo("ingress", 25, loss=5, dup=5, reorder=5)
        print(f"  and egress {egress.counters}", flush=True)
        self.assertGreater(link["dropped"] + link["duplicated"] + link["reordered"], 0)
        self.assertGreater(egress.counters["dropped"] + egress.counters["duplicated"], 0)


if __name__ == "__main__":
    h.run()
