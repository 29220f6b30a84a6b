#!/usr/bin/env python3
"""End to end: packet capture (the Capture call and `tapstackctl capture`) against kernel
clients. What tapstackd captures is compared, frame by frame and byte by byte, with what the
kernel's own tcpdump sees on its side of the TAP for the same connections; the pcap files are
read back with tcpdump; a reader that does not keep up loses frames, counted, while the stack
goes on at full speed."""

import os
import re
import select
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import harness as h

TAP = "tse2ecap"
DEMO_PORT = 7777  # --demo-mode discard: a sink for the bulk transfer


def read_pcap(path_or_bytes):
    """A pcap file's records as (timestamp in seconds, frame bytes), in file order."""
    if isinstance(path_or_bytes, bytes):
        data = path_or_bytes
    else:
        with open(path_or_bytes, "rb") as f:
            data = f.read()
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise AssertionError(f"not a little-endian pcap file: magic {magic:#x}")
    scale = 1e-6 if magic == 0xA1B2C3D4 else 1e-9
    linktype = struct.unpack("<I", data[20:24])[0]
    if linktype != 1:
        raise AssertionError(f"link type {linktype}, not Ethernet (1)")
    records, offset = [], 24
    while offset + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack("<IIII", data[offset:offset + 16])
        if offset + 16 + incl > len(data):
            break  # a record still being written
        if incl != orig:
            raise AssertionError(f"record cut short: {incl} of {orig} bytes")
        records.append((sec + frac * scale, data[offset + 16:offset + 16 + incl]))
        offset += 16 + incl
    return records


def tcp_fields(frame):
    """(source port, destination port, flags, seq, ack) of an Ethernet/IPv4/TCP frame, or None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 0x0F) * 4
    tcp = frame[14 + ihl:]
    sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
    return sport, dport, tcp[13], seq, ack


SYN, RST, ACK = 0x02, 0x04, 0x10


def handshake_of(frames, client_port):
    """A connection's handshake frames from a list of frames, as CAPTURE_MODE_HANDSHAKE takes
    them: SYNs, RSTs, and the client's first ACK of the SYN-ACK."""
    out, synack_seq = [], None
    for frame in frames:
        fields = tcp_fields(frame)
        if fields is None or client_port not in fields[:2]:
            continue
        sport, _, flags, seq, ack = fields
        if flags & (SYN | RST):
            out.append(frame)
            if flags & SYN and flags & ACK:
                synack_seq = seq
        elif synack_seq is not None and sport == client_port and ack == (synack_seq + 1) % 2**32:
            out.append(frame)
            synack_seq = None
    return out


def tcpdump_lines(pcap_bytes):
    """tcpdump's own reading of a pcap (from stdin): one line per frame."""
    result = subprocess.run(["tcpdump", "-nn", "-r", "-"], input=pcap_bytes,
                            capture_output=True, timeout=30)
    if result.returncode != 0:
        raise AssertionError(f"tcpdump -r failed: {result.stderr.decode()}")
    return result.stdout.decode().splitlines()


class KernelTcpdump:
    """tcpdump on the kernel's side of the TAP, in the test's namespace, writing a pcap file
    frame by frame; started once it says it listens."""

    def __init__(self, expression):
        self.path = tempfile.mktemp(prefix="tapstack-kernel-", suffix=".pcap")
        self.process = subprocess.Popen(
            ["tcpdump", "-i", TAP, "-nn", "-U", "--immediate-mode", "-Z", "root", "-w",
             self.path, expression], stderr=subprocess.PIPE)
        h.poll("tcpdump to listen", self._listening, timeout=10)

    def _listening(self):
        if self.process.poll() is not None:
            raise AssertionError("tcpdump exited: " + self.process.stderr.read().decode())
        ready, _, _ = select.select([self.process.stderr], [], [], 0.05)
        return bool(ready) and b"listening on" in self.process.stderr.readline()

    def frames(self):
        return [frame for _, frame in read_pcap(self.path)] if os.path.exists(self.path) else []

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=10)
        self.process.stderr.close()
        frames = self.frames()
        if os.path.exists(self.path):
            os.unlink(self.path)
        return frames


class CaptureCase(unittest.TestCase):
    """A class's daemon (DAEMON_FLAGS) on TAP, and the helpers its tests share."""
    DAEMON_FLAGS = ()

    @classmethod
    def setUpClass(cls):
        cls.daemon = h.started_class_daemon(*cls.DAEMON_FLAGS, tap=TAP)
        cls.stubs = cls.daemon.stubs()
        cls.pb = h.protos().endpoints_pb2
        cls.cpb = h.protos().capture_pb2

    @classmethod
    def tearDownClass(cls):
        cls.daemon.__exit__(None, None, None)

    def listen(self, port):
        e = self.stubs.endpoints
        endpoint_id = e.CreateEndpoint(self.pb.CreateEndpointRequest(), timeout=5).id
        self.addCleanup(e.Close, self.pb.CloseRequest(id=endpoint_id, abort=True), timeout=5)
        e.Bind(self.pb.BindRequest(id=endpoint_id, address=h.ENGINE_ADDRESS, port=port), timeout=5)
        e.Listen(self.pb.ListenRequest(id=endpoint_id), timeout=5)
        return endpoint_id

    def kernel_dump(self, expression):
        dump = KernelTcpdump(expression)
        self.addCleanup(dump.stop)
        return dump

    def ctl_capture(self, *args, stdout=subprocess.DEVNULL):
        """tapstackctl capture, returned once it says the capture is in place."""
        process = subprocess.Popen([h.Paths.tapstackctl, "capture", *args], stdout=stdout,
                                   stderr=subprocess.PIPE)
        def end():
            if process.poll() is None:
                process.kill()
                process.wait()
            for pipe in (process.stdout, process.stderr):
                if pipe:
                    pipe.close()

        self.addCleanup(end)
        line = process.stderr.readline().decode()
        self.assertTrue(line.startswith("capturing"), repr(line))
        return process

    @staticmethod
    def client(port, source_port=0):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((h.KERNEL_ADDRESS, source_port))
        s.settimeout(10)
        s.connect((h.ENGINE_ADDRESS, port))
        return s

    def start_grpc_capture(self, request):
        """A Capture call read on a thread of its own: (call, frames so far, frames_lost seen)."""
        call = self.stubs.capture.Capture(request, timeout=60)
        call.initial_metadata()  # the capture is in place in every loop
        frames, lost = [], []

        def read():
            try:
                for response in call:
                    frames.extend(response.frames)
                    lost.append(response.frames_lost)
            except Exception:  # noqa: BLE001 - the test's cancel ends the stream
                pass

        reader = threading.Thread(target=read)
        reader.start()
        self.addCleanup(reader.join, 10)
        self.addCleanup(call.cancel)
        return call, frames, lost


class Capture(CaptureCase):
    DAEMON_FLAGS = ("--demo-listener", str(DEMO_PORT), "--demo-mode", "discard")

    def test_ctl_writes_one_connections_handshake_as_the_kernel_saw_it(self):
        port, chosen = 7101, 41001
        self.listen(port)
        dump = self.kernel_dump(f"tcp port {port}")
        out = tempfile.mktemp(prefix="tapstack-capture-", suffix=".pcap")
        self.addCleanup(lambda: os.path.exists(out) and os.unlink(out))
        ctl = self.ctl_capture("--tuple", f"{h.ENGINE_ADDRESS}:{port},{h.KERNEL_ADDRESS}:{chosen}",
                               "--handshake", "--count", "3", "-w", out)
        # Connections before and after the chosen one, and data on it: none of it is taken.
        for source_port in (41000, chosen, 41002):
            s = self.client(port, source_port)
            s.sendall(b"not a handshake")
            s.close()
        err = ctl.communicate(timeout=20)[1].decode()
        self.assertEqual(ctl.returncode, 0, err)
        self.assertIn("3 frames captured, 0 lost (count reached)", err)

        with open(out, "rb") as f:
            pcap = f.read()
        lines = tcpdump_lines(pcap)
        self.assertEqual(len(lines), 3, lines)
        client, server = f"{h.KERNEL_ADDRESS}.{chosen}", f"{h.ENGINE_ADDRESS}.{port}"
        for line, (src, dst, flags) in zip(lines, [(client, server, "[S]"),
                                                   (server, client, "[S.]"),
                                                   (client, server, "[.]")]):
            self.assertIn(f"{src} > {dst}: Flags {flags}", line)

        h.poll("the kernel's tcpdump to have the handshake",
               lambda: len(handshake_of(dump.frames(), chosen)) == 3)
        ours = [frame for _, frame in read_pcap(pcap)]
        self.assertEqual([f.hex() for f in ours],
                         [f.hex() for f in handshake_of(dump.frames(), chosen)])

    def test_grpc_stream_has_every_frame_of_a_listener_in_order_with_the_kernels_bytes(self):
        port = 7102
        listener = self.listen(port)
        dump = self.kernel_dump(f"tcp port {port}")
        before = time.time_ns()
        call, frames, lost = self.start_grpc_capture(self.cpb.CaptureRequest(listener_id=listener))
        # A whole connection: handshake, then the engine closes first (FIN both ways).
        s = self.client(port)
        accepted = self.stubs.endpoints.Accept(self.pb.AcceptRequest(id=listener), timeout=10)
        self.stubs.endpoints.Close(self.pb.CloseRequest(id=accepted.id), timeout=5)
        self.assertEqual(h.wait_closed_by_peer(s), "fin")
        s.close()

        def same():
            kernel = dump.frames()
            return len(kernel) >= 6 and [f.data for f in frames] == kernel

        h.poll("the capture to hold every frame the kernel's tcpdump saw", same)
        after = time.time_ns()
        call.cancel()
        self.assertEqual(lost[-1] if lost else 0, 0)
        for f in frames:
            fields = tcp_fields(f.data)
            received = fields[1] == port
            self.assertEqual(f.direction, self.cpb.CAPTURE_DIRECTION_RECEIVED if received
                             else self.cpb.CAPTURE_DIRECTION_SENT)
            self.assertEqual(f.original_length, len(f.data))
            self.assertTrue(before <= f.timestamp_unix_ns <= after)
        self.assertEqual([f.timestamp_unix_ns for f in frames],
                         sorted(f.timestamp_unix_ns for f in frames))

    def test_a_reader_that_falls_behind_loses_frames_counted_and_the_stack_goes_on(self):
        # Nobody reads tapstackctl's stdout until the transfer is over: its pipe fills, it stops
        # reading the stream, the server's 64 KiB ring fills, and frames are lost.
        ctl = self.ctl_capture("--port", str(DEMO_PORT), "--ring-bytes", "65536", "-w", "-",
                               stdout=subprocess.PIPE)
        total = 32 << 20
        s = self.client(DEMO_PORT)
        chunk = b"x" * 65536
        for _ in range(total // len(chunk)):
            s.sendall(chunk)
        s.shutdown(socket.SHUT_WR)
        s.close()
        pcap = []
        drain = threading.Thread(target=lambda: pcap.append(ctl.stdout.read()))
        drain.start()
        ctl.send_signal(signal.SIGINT)
        ctl.wait(timeout=20)
        drain.join(timeout=20)
        err = ctl.stderr.read().decode()
        self.assertEqual(ctl.returncode, 0, err)
        m = re.search(r"(\d+) frames captured, (\d+) lost \(interrupted\)", err)
        self.assertIsNotNone(m, err)
        captured, lost = int(m.group(1)), int(m.group(2))
        self.assertGreater(lost, 0)
        self.assertGreater(captured, 0)
        self.assertEqual(len(tcpdump_lines(pcap[0])), captured)
        self.assertEqual(len(read_pcap(pcap[0])), captured)
        samples = h.scrape()
        self.assertGreaterEqual(samples["tapstack_capture_frames_lost_total"], lost)
        h.poll("the capture to end", lambda: h.scrape()["tapstack_captures_running"] == 0)

    def test_bad_requests_and_limits_get_precise_statuses(self):
        import grpc
        capture = self.stubs.capture
        cases = [(self.cpb.CaptureRequest(listener_id=1, port=80), grpc.StatusCode.INVALID_ARGUMENT),
                 (self.cpb.CaptureRequest(port=70000), grpc.StatusCode.INVALID_ARGUMENT),
                 (self.cpb.CaptureRequest(peer="198.18.0.1/15"), grpc.StatusCode.INVALID_ARGUMENT),
                 (self.cpb.CaptureRequest(listener_id=999999), grpc.StatusCode.NOT_FOUND),
                 (self.cpb.CaptureRequest(ring_bytes=100 << 20), grpc.StatusCode.INVALID_ARGUMENT)]
        for request, code in cases:
            with self.assertRaises(grpc.RpcError) as caught:
                list(capture.Capture(request, timeout=5))
            self.assertEqual(caught.exception.code(), code, request)
        # --capture-memory (64 MiB): sixteen 4 MiB captures fit, not a seventeenth... but
        # --max-captures (4) comes first.
        calls = [capture.Capture(self.cpb.CaptureRequest(), timeout=30) for _ in range(4)]
        for call in calls:
            call.initial_metadata()
        with self.assertRaises(grpc.RpcError) as caught:
            list(capture.Capture(self.cpb.CaptureRequest(), timeout=5))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("--max-captures", caught.exception.details())
        for call in calls:
            call.cancel()
        h.poll("the captures to end", lambda: h.scrape()["tapstack_captures_running"] == 0)


class CaptureTwoLoops(CaptureCase):
    """--queues 2: a ring per loop, merged by the reader."""
    DAEMON_FLAGS = ("--queues", "2", "--backlog", "64")

    def test_frames_of_both_loops_are_all_there_each_connection_in_order(self):
        port = 7103
        listener = self.listen(port)
        dump = self.kernel_dump(f"tcp port {port}")
        _, frames, lost = self.start_grpc_capture(
            self.cpb.CaptureRequest(listener_id=listener, ring_bytes=1 << 20))
        ports = list(range(42000, 42016))  # the steering hash spreads them over both loops
        for source_port in ports:
            self.client(port, source_port).close()

        def per_connection(frame_list):
            return {p: [f for f in frame_list if p in tcp_fields(f)[:2]] for p in ports}

        def same():
            kernel = dump.frames()
            ours = [f.data for f in frames]
            return (len(kernel) >= 4 * len(ports) and sorted(ours) == sorted(kernel)
                    and per_connection(ours) == per_connection(kernel))

        h.poll("the capture to hold the kernel's frames, each connection's in order", same)
        self.assertEqual(lost[-1] if lost else 0, 0)
        received = h.scrape()
        self.assertGreater(received['tapstack_loop_frames_received_total{queue="0"}'], 0)
        self.assertGreater(received['tapstack_loop_frames_received_total{queue="1"}'], 0)


if __name__ == "__main__":
    h.run()
