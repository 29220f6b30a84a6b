#!/usr/bin/env python3
"""End to end: the control plane's side of IPv6 -- a daemon with an IPv4 and an IPv6 --address
(and its link-local one) in GetConfig and tapstackctl config, Bind per family as Linux binds
(:: dual-stack, :: v6-only beside 0.0.0.0, v6_only only with IPv6), the errors for foreign,
multicast and unroutable IPv6 addresses, a :: listener and the demo listener taking an IPv4
kernel client shown as plain IPv4, tapstackctl reading and printing [v6]:port, and the
exporter's connections by family. IPv6 traffic itself needs neighbour discovery (NDP)."""

import ipaddress
import json
import time
import unittest

import grpc

import harness as h

TAP = "tse2e6"
IPV6_ADDRESS = "2001:db8::2"
IPV6_PREFIX = 64
DEMO_PORT = 7006


def link_local_of(mac):
    """fe80::/64 with the modified EUI-64 interface identifier of `mac` (RFC 4291 App. A)."""
    b = bytes.fromhex(mac.replace(":", ""))
    iid = bytes([b[0] ^ 0x02, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]])
    return str(ipaddress.IPv6Address(bytes.fromhex("fe80000000000000") + iid))


class Ipv6ControlCase(unittest.TestCase):
    """Shared: the class's daemon, its stubs, and helpers for endpoints and tapstackctl."""

    DAEMON_FLAGS = ()

    @classmethod
    def setUpClass(cls):
        cls.daemon = h.started_class_daemon(*cls.DAEMON_FLAGS, tap=TAP)
        cls.stubs = cls.daemon.stubs()
        cls.pb = h.protos().endpoints_pb2

    @classmethod
    def tearDownClass(cls):
        cls.daemon.__exit__(None, None, None)

    def create(self):
        endpoint = self.stubs.endpoints.CreateEndpoint(self.pb.CreateEndpointRequest(), timeout=5)
        self.addCleanup(self.close_quietly, endpoint.id)
        return endpoint.id

    def close_quietly(self, endpoint_id):
        try:
            self.stubs.endpoints.Close(self.pb.CloseRequest(id=endpoint_id, abort=True), timeout=5)
        except grpc.RpcError:
            pass

    def bind(self, address, port, v6_only=False):
        # Our IPv6 addresses are tentative for the 1 s of duplicate address detection after the
        # daemon starts (UNAVAILABLE, as Linux's EADDRNOTAVAIL); nothing announces its end, so
        # the Bind is asked again for at most 5 s.
        request = self.pb.BindRequest(id=self.create(), address=address, port=port,
                                      v6_only=v6_only)
        deadline = time.monotonic() + 5
        while True:
            try:
                return self.stubs.endpoints.Bind(request, timeout=5)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def expect_error(self, code, call, fragment):
        with self.assertRaises(grpc.RpcError) as caught:
            call()
        self.assertEqual(caught.exception.code(), code, caught.exception.details())
        self.assertIn(fragment, caught.exception.details())

    def connect(self, address, port):
        remote = self.pb.SocketAddress(address=address, port=port)
        return self.stubs.endpoints.Connect(self.pb.ConnectRequest(id=self.create(),
                                                                   remote=remote), timeout=5)

    def ctl(self, *args, expect=0):
        return h.run_ctl(self, *args, expect=expect)


class DualStack(Ipv6ControlCase):
    DAEMON_FLAGS = ("--address", f"{IPV6_ADDRESS}/{IPV6_PREFIX}", "--gateway", "fe80::1",
                    "--demo-listener", str(DEMO_PORT))

    def config(self):
        return self.stubs.stack.GetConfig(h.protos().stack_pb2.GetConfigRequest(), timeout=5)

    def test_config_lists_every_address_and_both_routers(self):
        config = self.config()
        link_local = link_local_of(config.mac)
        self.assertEqual(list(config.addresses), [f"{h.ENGINE_ADDRESS}/{h.PREFIX}",
                                                  f"{IPV6_ADDRESS}/{IPV6_PREFIX}",
                                                  f"{link_local}/64"])
        self.assertEqual(config.address, f"{h.ENGINE_ADDRESS}/{h.PREFIX}")  # as before
        self.assertEqual(config.gateway, "")
        self.assertEqual(config.ipv6_gateway, "fe80::1")
        shown = self.ctl("config").stdout
        self.assertRegex(shown, rf"(?m)^addresses\s+{h.ENGINE_ADDRESS}/{h.PREFIX} "
                                rf"{IPV6_ADDRESS}/{IPV6_PREFIX} {link_local}/64$")
        self.assertRegex(shown, r"(?m)^ipv6_gateway\s+fe80::1$")
        # The link-local address is the stack's: a Bind to it is taken.
        self.assertEqual(self.bind(link_local, 8600).local.address, link_local)

    def test_bind_per_family_as_linux(self):
        # :: takes both families: 0.0.0.0 on the same port conflicts, either way round.
        self.assertEqual(self.bind("::", 8601).local.address, "::")
        self.expect_error(grpc.StatusCode.ALREADY_EXISTS, lambda: self.bind("0.0.0.0", 8601),
                          "port 8601 is in use")
        self.bind("", 8602)  # empty: 0.0.0.0, as before
        self.expect_error(grpc.StatusCode.ALREADY_EXISTS, lambda: self.bind("::", 8602),
                          "port 8602 is in use")
        # :: v6-only leaves the port's IPv4 side free.
        v6_only = self.bind("::", 8603, v6_only=True)
        self.assertTrue(v6_only.v6_only)
        self.assertFalse(self.bind("0.0.0.0", 8603).v6_only)
        self.expect_error(grpc.StatusCode.ALREADY_EXISTS, lambda: self.bind(IPV6_ADDRESS, 8603),
                          "port 8603 is in use")
        # One address of each family on one port.
        self.assertEqual(self.bind(IPV6_ADDRESS, 8604).local.address, IPV6_ADDRESS)
        self.assertEqual(self.bind(h.ENGINE_ADDRESS, 8604).local.address, h.ENGINE_ADDRESS)

    def test_bind_errors(self):
        for address in ("0.0.0.0", "", h.ENGINE_ADDRESS):
            with self.subTest(address=address):
                self.expect_error(grpc.StatusCode.INVALID_ARGUMENT,
                                  lambda: self.bind(address, 8610, v6_only=True),
                                  "v6_only needs an IPv6 address or ::")
        self.expect_error(grpc.StatusCode.INVALID_ARGUMENT, lambda: self.bind("2001:db8::99", 8611),
                          "2001:db8::99 is not one of this stack's addresses")
        for malformed in ("[2001:db8::2]", "2001:db8::2%tse2e6", "2001:db8::zz"):
            with self.subTest(address=malformed):
                self.expect_error(grpc.StatusCode.INVALID_ARGUMENT,
                                  lambda: self.bind(malformed, 8612),
                                  f"address must be an IPv4 address (198.18.0.2) or an IPv6 one "
                                  f"(2001:db8::2, without brackets), not '{malformed}'")

    def test_connect_errors(self):
        for peer in ("ff02::1", "::", IPV6_ADDRESS, "::1"):
            with self.subTest(peer=peer):
                self.expect_error(grpc.StatusCode.INVALID_ARGUMENT, lambda: self.connect(peer, 80),
                                  f"{peer} is not a unicast peer address")
        # A v6-only endpoint takes no IPv4 peer.
        v6_only = self.bind("::", 8620, v6_only=True).id
        self.expect_error(
            grpc.StatusCode.INVALID_ARGUMENT,
            lambda: self.stubs.endpoints.Connect(self.pb.ConnectRequest(
                id=v6_only, remote=self.pb.SocketAddress(address=h.KERNEL_ADDRESS, port=80)),
                timeout=5),
            "cannot connect to 198.18.0.1")

    def test_dual_stack_listener_shows_an_ipv4_peer_as_ipv4(self):
        listener = self.bind("::", 8630).id
        self.stubs.endpoints.Listen(self.pb.ListenRequest(id=listener), timeout=5)
        with h.kernel_connect(8630) as sock:
            accepted = self.stubs.endpoints.Accept(self.pb.AcceptRequest(id=listener), timeout=5)
            self.addCleanup(self.close_quietly, accepted.id)
            # Linux's own :: socket shows this peer as ::ffff:198.18.0.1; the API shows IPv4.
            self.assertEqual(accepted.remote.address, h.KERNEL_ADDRESS)
            self.assertEqual(accepted.remote.port, sock.getsockname()[1])
            self.assertEqual(accepted.local.address, h.ENGINE_ADDRESS)
            self.assertEqual(accepted.local.port, 8630)
            listed = self.ctl("ls").stdout
            self.assertRegex(listed, rf"(?m)^{listener}\s+LISTEN\s.*\[::\]:8630\s")
            self.assertRegex(listed, rf"(?m)^{accepted.id}\s+ESTABLISHED\s.*"
                                     rf"{h.ENGINE_ADDRESS}:8630\s+{h.KERNEL_ADDRESS}:\d+")
            samples = h.scrape()
            self.assertGreaterEqual(samples['tapstack_connections{family="ipv4"}'], 1)
            self.assertEqual(samples['tapstack_connections{family="ipv6"}'], 0)
            self.assertIn('tapstack_listen_backlog_limit{listener="[::]:8630",queue="accept"}',
                          samples)

    def test_demo_listener_takes_ipv4_on_both_families(self):
        listed = self.ctl("-o", "json", "ls", "-l").stdout
        demo = [e for e in (json.loads(line) for line in listed.splitlines())
                for e in e.get("endpoints", []) if e["local"]["port"] == DEMO_PORT]
        self.assertEqual(len(demo), 1, listed)
        self.assertEqual(demo[0]["local"]["address"], "::")
        self.assertFalse(demo[0]["v6_only"])
        with h.kernel_connect(DEMO_PORT) as sock:
            self.assertEqual(h.wait_closed_by_peer(sock), "fin")
        self.assertIn(f"demo listener [::]:{DEMO_PORT}", self.daemon.log())

    def test_ctl_reads_and_prints_ipv6(self):
        def create():
            endpoint_id = self.ctl("create").stdout.strip()
            self.addCleanup(self.close_quietly, int(endpoint_id))
            return endpoint_id

        shown = self.ctl("bind", create(), "[::]:8640", "--v6-only").stdout
        self.assertRegex(shown, r"(?m)^local:\s+\[::\]:8640$")
        self.assertRegex(shown, r"(?m)^v6 only:\s+yes$")
        shown = self.ctl("bind", create(), f"[{IPV6_ADDRESS}]:8641").stdout
        self.assertRegex(shown, rf"(?m)^local:\s+\[{IPV6_ADDRESS}\]:8641$")
        # An address alone: an ephemeral port on it.
        shown = self.ctl("bind", create(), IPV6_ADDRESS).stdout
        self.assertRegex(shown, rf"(?m)^local:\s+\[{IPV6_ADDRESS}\]:(3[2-9]|[4-5]\d|60)\d\d\d$")
        self.assertRegex(self.ctl("bind", create(), "::").stdout, r"(?m)^local:\s+\[::\]:\d+$")
        listed = self.ctl("ls").stdout
        self.assertIn(f"[{IPV6_ADDRESS}]:8641", listed)
        # Mistakes are told before any call.
        result = self.ctl("connect", create(), IPV6_ADDRESS, expect=64)
        self.assertIn(f"an IPv6 address takes brackets before its port, [{IPV6_ADDRESS}]:PORT",
                      result.stderr)
        result = self.ctl("connect", create(), "[ff02::1]:80", expect=3)  # INVALID_ARGUMENT
        self.assertIn("ff02::1 is not a unicast peer address", result.stderr)
        self.ctl("bind", create(), "0.0.0.0:8642", "--v6-only", expect=3)


class Ipv4Only(Ipv6ControlCase):
    def test_ipv6_peer_without_an_ipv6_address_is_unavailable(self):
        self.expect_error(grpc.StatusCode.UNAVAILABLE, lambda: self.connect("2001:db8::1", 80),
                          "no route to 2001:db8::1: no IPv6 address configured")
        result = self.ctl("connect", str(self.create()), "[2001:db8::1]:80", expect=14)
        self.assertIn("no IPv6 address configured", result.stderr)
        config = self.stubs.stack.GetConfig(h.protos().stack_pb2.GetConfigRequest(), timeout=5)
        self.assertEqual(len(config.addresses), 2)  # IPv4 and the link-local one
        self.assertEqual(config.ipv6_gateway, "")

    def test_dual_stack_bind_without_an_ipv6_address(self):
        # The link-local address is always there, so :: is as good as on a dual-stack daemon.
        self.assertEqual(self.bind("::", 8650).local.address, "::")
        self.expect_error(grpc.StatusCode.ALREADY_EXISTS, lambda: self.bind("0.0.0.0", 8650),
                          "port 8650 is in use")


if __name__ == "__main__":
    h.run()
