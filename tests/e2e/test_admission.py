#!/usr/bin/env python3
"""End to end: a listener's admission policy through the API and its wiring. Listen with a
policy, GetEndpoint and ListEndpoints show it, SetAdmissionPolicy changes or clears it at run
time for the next SYN, every bad policy is INVALID_ARGUMENT naming the field, an unknown id or
a non-listener is NOT_FOUND or FAILED_PRECONDITION; a kernel client whose address is denied gets
a RST (ECONNREFUSED) or, with silence, no answer, and is admitted once the policy is cleared;
the refusals are counted in GetEndpoint and in /metrics by reason; tapstackctl's listen flags
and policy verbs; with --queues 2 every loop applies the policy and the answer shows it as set.
The policy's behaviour under rates and floods is the engine's integration tests' subject."""

import errno
import json
import select
import socket
import unittest

import grpc

import harness as h

DENY_KERNEL = f"{h.KERNEL_ADDRESS}/32"
REASONS = ["denied", "not_allowed", "rate_limited", "half_open_cap", "connection_cap"]


class AdmissionCase(unittest.TestCase):
    """Helpers over one class-wide daemon (setUpClass in the subclasses)."""

    @classmethod
    def start(cls, *flags, tap):
        cls.daemon = h.started_class_daemon(*flags, tap=tap)
        cls.pb = h.protos().endpoints_pb2
        cls.endpoints = cls.daemon.stubs().endpoints

    @classmethod
    def tearDownClass(cls):
        cls.daemon.__exit__(None, None, None)

    def bound(self, port):
        e = self.endpoints.CreateEndpoint(self.pb.CreateEndpointRequest(), timeout=5)
        self.addCleanup(self.close_quietly, e.id)
        self.endpoints.Bind(self.pb.BindRequest(id=e.id, port=port), timeout=5)
        return e.id

    def listener(self, port, admission=None, backlog=64):
        endpoint_id = self.bound(port)
        request = self.pb.ListenRequest(id=endpoint_id)
        request.backlog.value = backlog
        if admission is not None:
            request.admission.CopyFrom(admission)
        self.endpoints.Listen(request, timeout=5)
        return endpoint_id

    def close_quietly(self, endpoint_id):
        try:
            self.endpoints.Close(self.pb.CloseRequest(id=endpoint_id, abort=True), timeout=5)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.NOT_FOUND:
                raise

    def get(self, endpoint_id):
        return self.endpoints.GetEndpoint(self.pb.GetEndpointRequest(id=endpoint_id), timeout=5)

    def set_policy(self, endpoint_id, policy=None, clear=False):
        request = self.pb.SetAdmissionPolicyRequest(id=endpoint_id, clear=clear)
        if policy is not None:
            request.policy.CopyFrom(policy)
        return self.endpoints.SetAdmissionPolicy(request, timeout=5)

    def refused(self, endpoint, reason):
        counters = endpoint.listener.admission.counters
        return next(r.syns for r in counters.refused if r.reason == reason)

    def connect_refused(self, port):
        """A kernel connect that must be refused at once with a RST."""
        with self.assertRaises(ConnectionRefusedError):
            h.kernel_connect(port).close()

    def connected(self, port):
        s = h.kernel_connect(port)
        self.addCleanup(s.close)
        return s

    def metric(self, name, **labels):
        key = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
        samples = h.scrape()
        self.assertIn(key, samples, f"no {key} in /metrics")
        return samples[key]


class OneLoop(AdmissionCase):
    @classmethod
    def setUpClass(cls):
        cls.start(tap="tse2ad")

    def test_listen_with_a_policy_and_get_endpoint_shows_it_with_its_defaults(self):
        policy = self.pb.AdmissionPolicy(allow=["198.18.0.0/15", "2001:db8::/32"],
                                         deny=["198.18.0.99/32"], max_half_open=4)
        policy.syn_rate.per_second = 50
        policy.syn_rate.burst = 10
        policy.ipv4_source_prefix.value = 28
        listener = self.listener(8101, policy)
        shown = self.get(listener).listener.admission
        self.assertTrue(shown.HasField("policy"))
        p = shown.policy
        self.assertEqual(list(p.allow), ["198.18.0.0/15", "2001:db8::/32"])
        self.assertEqual(list(p.deny), ["198.18.0.99/32"])
        self.assertEqual((p.syn_rate.per_second, p.syn_rate.burst), (50, 10))
        self.assertEqual(p.max_half_open, 4)
        self.assertEqual(p.max_connections, 0)
        # What was left unset shows the value in force.
        self.assertEqual(p.ipv4_source_prefix.value, 28)
        self.assertEqual(p.ipv6_source_prefix.value, 64)
        self.assertEqual(p.source_table_size.value, 16384)
        A = self.pb.AdmissionPolicy
        self.assertEqual((p.list_refusal, p.rate_refusal, p.cap_refusal),
                         (A.REFUSAL_RESET, A.REFUSAL_SILENCE, A.REFUSAL_RESET))
        self.assertEqual([r.reason for r in shown.counters.refused], REASONS)
        self.assertEqual(shown.counters.admitted, 0)
        # ListEndpoints shows the same.
        listed = self.endpoints.ListEndpoints(self.pb.ListEndpointsRequest(), timeout=5)
        mine = next(e for e in listed.endpoints if e.id == listener)
        self.assertEqual(mine.listener.admission.policy, p)
        # Listen again without a policy changes the limits and keeps the policy.
        self.endpoints.Listen(self.pb.ListenRequest(id=listener), timeout=5)
        self.assertEqual(self.get(listener).listener.admission.policy, p)

    def test_a_listener_without_a_policy_has_counters_and_no_policy(self):
        shown = self.get(self.listener(8102)).listener.admission
        self.assertFalse(shown.HasField("policy"))
        self.assertEqual([r.syns for r in shown.counters.refused], [0] * len(REASONS))

    def test_deny_refuses_with_rst_at_run_time_and_clear_admits_the_next_syn(self):
        listener = self.listener(8103)
        self.connected(8103)  # no policy: admitted
        answer = self.set_policy(listener, self.pb.AdmissionPolicy(deny=[DENY_KERNEL]))
        self.assertEqual(list(answer.listener.admission.policy.deny), [DENY_KERNEL])
        self.connect_refused(8103)  # the very next SYN
        self.connect_refused(8103)
        counters = self.get(listener).listener.admission.counters
        self.assertEqual(self.refused(self.get(listener), "denied"), 2)
        self.assertEqual(counters.admitted, 0)
        label = "0.0.0.0:8103"
        self.assertEqual(self.metric("tapstack_listener_syns_refused_total", listener=label,
                                     reason="denied"), 2)
        self.assertEqual(self.metric("tapstack_listener_syns_refused_total", listener=label,
                                     reason="rate_limited"), 0)
        answer = self.set_policy(listener, clear=True)
        self.assertFalse(answer.listener.admission.HasField("policy"))
        self.connected(8103)  # the next SYN is admitted
        # The counters outlive the policy.
        self.assertEqual(self.refused(self.get(listener), "denied"), 2)

    def test_an_allow_list_admits_inside_and_counts_admissions(self):
        listener = self.listener(8104, self.pb.AdmissionPolicy(allow=["198.18.0.0/24"]))
        self.connected(8104)
        self.assertEqual(self.get(listener).listener.admission.counters.admitted, 1)
        self.assertEqual(self.metric("tapstack_listener_syns_admitted_total",
                                     listener="0.0.0.0:8104"), 1)
        # Replaced: the kernel's address is now outside the allow list.
        self.set_policy(listener, self.pb.AdmissionPolicy(allow=["198.19.0.0/16"]))
        self.connect_refused(8104)
        self.assertEqual(self.refused(self.get(listener), "not_allowed"), 1)

    def test_silence_leaves_a_refused_client_without_an_answer(self):
        policy = self.pb.AdmissionPolicy(deny=[DENY_KERNEL],
                                         list_refusal=self.pb.AdmissionPolicy.REFUSAL_SILENCE)
        listener = self.listener(8105, policy)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.setblocking(False)
        self.assertIn(s.connect_ex((h.ENGINE_ADDRESS, 8105)), (errno.EINPROGRESS, 0))
        # The SYN was seen and refused ...
        h.poll("the SYN to be refused",
               lambda: self.refused(self.get(listener), "denied") >= 1)
        # ... and nothing came back: the connect is still in progress, no RST, no SYN-ACK.
        _, writable, _ = select.select([], [s], [], 0)
        self.assertEqual(writable, [])
        self.assertEqual(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR), 0)

    def test_bad_policies_are_invalid_argument_naming_the_field(self):
        listener = self.listener(8106)
        A = self.pb.AdmissionPolicy

        def refused_with(policy, *words):
            with self.assertRaises(grpc.RpcError) as caught:
                self.set_policy(listener, policy)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT,
                             caught.exception.details())
            for w in words:
                self.assertIn(w, caught.exception.details())

        refused_with(A(deny=["198.18.0/24"]), "policy.deny[0]", "198.18.0/24")
        refused_with(A(allow=["198.18.0.0/15", "not-an-address/8"]), "policy.allow[1]",
                     "not-an-address/8")
        refused_with(A(deny=["198.18.0.1/15"]), "policy.deny[0]", "198.18.0.1/15")  # host bits
        refused_with(A(deny=["198.18.0.0/33"]), "policy.deny[0]", "198.18.0.0/33")
        refused_with(A(allow=["198.18.0.0/24"], deny=["198.18.0.0/16"]), "198.18.0.0/24",
                     "198.18.0.0/16")  # an allow inside a deny allows nothing
        rate0 = A()
        rate0.syn_rate.per_second = 0
        rate0.syn_rate.burst = 5
        refused_with(rate0, "SYN rate")
        burst0 = A()
        burst0.syn_rate.per_second = 10
        refused_with(burst0, "SYN burst")
        for field, value, words in (
                ("ipv4_source_prefix", 33, ("IPv4 source prefix length 33", "1..32")),
                ("ipv4_source_prefix", 0, ("IPv4 source prefix length 0",)),
                ("ipv6_source_prefix", 129, ("IPv6 source prefix length 129", "1..128")),
                ("ipv4_source_prefix", 300, ("policy.ipv4_source_prefix", "300"))):
            p = A()
            getattr(p, field).value = value
            refused_with(p, *words)
        table = A()
        table.source_table_size.value = 0
        refused_with(table, "source table size 0")
        refused_with(A(deny=["198.18.0.0/24", "198.18.0.0/24"]), "listed twice")
        refused_with(A(list_refusal=7), "policy.list_refusal", "7")
        # Neither a policy nor clear, or both.
        for request in (self.pb.SetAdmissionPolicyRequest(id=listener),
                        self.pb.SetAdmissionPolicyRequest(id=listener, clear=True,
                                                          policy=A(deny=[DENY_KERNEL]))):
            with self.assertRaises(grpc.RpcError) as caught:
                self.endpoints.SetAdmissionPolicy(request, timeout=5)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("exactly one of policy", caught.exception.details())
        # None of it changed the listener.
        self.assertFalse(self.get(listener).listener.admission.HasField("policy"))

    def test_listen_with_a_bad_policy_changes_nothing(self):
        endpoint_id = self.bound(8107)
        request = self.pb.ListenRequest(id=endpoint_id,
                                        admission=self.pb.AdmissionPolicy(allow=["198.18.0.1/8"]))
        with self.assertRaises(grpc.RpcError) as caught:
            self.endpoints.Listen(request, timeout=5)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("admission.allow[0]", caught.exception.details())
        self.assertEqual(self.get(endpoint_id).state, self.pb.TCP_STATE_BOUND)

    def test_unknown_id_and_non_listeners(self):
        policy = self.pb.AdmissionPolicy(deny=[DENY_KERNEL])
        cases = [(987654321, grpc.StatusCode.NOT_FOUND),
                 (self.bound(8108), grpc.StatusCode.FAILED_PRECONDITION)]
        created = self.endpoints.CreateEndpoint(self.pb.CreateEndpointRequest(), timeout=5)
        self.addCleanup(self.close_quietly, created.id)
        cases.append((created.id, grpc.StatusCode.FAILED_PRECONDITION))
        listener = self.listener(8109)
        cases.append((self.accepted(listener, 8109), grpc.StatusCode.FAILED_PRECONDITION))
        for endpoint_id, code in cases:
            for request in (self.pb.SetAdmissionPolicyRequest(id=endpoint_id, policy=policy),
                            self.pb.SetAdmissionPolicyRequest(id=endpoint_id, clear=True)):
                with self.assertRaises(grpc.RpcError) as caught:
                    self.endpoints.SetAdmissionPolicy(request, timeout=5)
                self.assertEqual(caught.exception.code(), code, caught.exception.details())
        with self.assertRaises(grpc.RpcError) as caught:
            self.set_policy(0, policy)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def accepted(self, listener, port):
        """A connection the listener accepted: its id."""
        self.connected(port)
        connection = self.endpoints.Accept(self.pb.AcceptRequest(id=listener), timeout=5)
        self.addCleanup(self.close_quietly, connection.id)
        return connection.id

    # --- tapstackctl

    def ctl(self, *args, expect=0):
        return h.run_ctl(self, *args, expect=expect)

    def test_ctl_listen_with_policy_flags_then_show_set_clear(self):
        endpoint_id = self.bound(8110)
        listening = json.loads(self.ctl(
            "-o", "json", "listen", str(endpoint_id), "--deny", DENY_KERNEL, "--allow",
            "198.18.0.0/15,2001:db8::/32", "--syn-rate", "20/5", "--max-connections", "8",
            "--source-prefix", "32/128", "--cap-refusal", "silence").stdout)
        policy = listening["listener"]["admission"]["policy"]
        self.assertEqual(policy["deny"], [DENY_KERNEL])
        self.assertEqual(policy["allow"], ["198.18.0.0/15", "2001:db8::/32"])
        self.assertEqual(policy["syn_rate"], {"per_second": 20, "burst": 5})
        self.assertEqual(policy["max_connections"], 8)
        self.assertEqual((policy["ipv4_source_prefix"], policy["ipv6_source_prefix"]), (32, 128))
        self.assertEqual(policy["cap_refusal"], "REFUSAL_SILENCE")
        self.assertEqual(policy["list_refusal"], "REFUSAL_RESET")
        self.connect_refused(8110)

        shown = self.ctl("policy", "show", str(endpoint_id)).stdout
        self.assertRegex(shown, rf"deny:\s+{DENY_KERNEL}\n")
        self.assertRegex(shown, r"syn rate:\s+20/s, burst 5 per source prefix")
        self.assertRegex(shown, r"max connections:\s+8 per source prefix")
        self.assertRegex(shown, r"refused\s+denied\s+1\n")
        self.assertRegex(shown, r"admitted\s+0\n")
        as_json = json.loads(self.ctl("-o", "json", "policy", "show", str(endpoint_id)).stdout)
        denied = next(r for r in as_json["counters"]["refused"] if r["reason"] == "denied")
        self.assertEqual(denied["syns"], "1")  # uint64 as text in protobuf JSON
        self.assertRegex(self.ctl("get", str(endpoint_id)).stdout,
                         r"admission:\s+policy, 0 SYNs admitted, 1 refused")

        # set replaces the whole policy: the deny list is gone, the rate is the new one.
        replaced = self.ctl("policy", "set", str(endpoint_id), "--syn-rate", "100").stdout
        self.assertRegex(replaced, r"deny:\s+-\n")
        self.assertRegex(replaced, r"syn rate:\s+100/s, burst 100 per source prefix")
        self.connected(8110)
        cleared = self.ctl("policy", "clear", str(endpoint_id)).stdout
        self.assertIn("policy:  none (every SYN is admitted)", cleared)
        self.assertRegex(cleared, r"admitted\s+1\n")

    def test_ctl_errors_exit_with_the_grpc_code(self):
        listener = self.listener(8111)
        bad = self.ctl("policy", "set", str(listener), "--deny", "198.18.0.1/16", expect=3)
        self.assertIn("INVALID_ARGUMENT: policy.deny[0]", bad.stderr)
        self.assertIn("198.18.0.1/16", bad.stderr)
        zero = self.ctl("policy", "set", str(listener), "--syn-rate", "0", expect=3)
        self.assertIn("SYN rate", zero.stderr)
        self.assertIn("NOT_FOUND", self.ctl("policy", "show", "987654321", expect=5).stderr)
        self.assertIn("not a listener",
                      self.ctl("policy", "show", str(self.bound(8112)), expect=9).stderr)
        self.assertIn("policy set needs at least one policy flag",
                      self.ctl("policy", "set", str(listener), expect=64).stderr)
        self.assertIn("--refuse must be rst or silence",
                      self.ctl("listen", str(listener), "--refuse", "drop", expect=64).stderr)
        self.assertIn("policy takes show, set or clear",
                      self.ctl("policy", "edit", str(listener), expect=64).stderr)


class TwoQueues(AdmissionCase):
    """--queues 2: each loop's replica applies the policy to the flows its queue carries."""

    @classmethod
    def setUpClass(cls):
        cls.start("--queues", "2", tap="tse2aq")  # the daemon makes a two-queue TAP

    def test_every_loop_refuses_and_the_answer_shows_the_policy_as_set(self):
        policy = self.pb.AdmissionPolicy(deny=[DENY_KERNEL], max_half_open=5,
                                         max_connections=7)
        policy.syn_rate.per_second = 100
        policy.syn_rate.burst = 11
        listener = self.listener(8120, policy)
        shown = self.get(listener).listener.admission.policy
        # Each replica holds a share (50/s, burst 6, caps 3 and 4); the API shows the whole.
        self.assertEqual((shown.syn_rate.per_second, shown.syn_rate.burst), (100, 11))
        self.assertEqual((shown.max_half_open, shown.max_connections), (5, 7))
        # 16 client ports spread over both queues: every one refused, whichever loop it met.
        before = h.scrape()
        for _ in range(16):
            self.connect_refused(8120)
        after = h.scrape()
        for queue in ("0", "1"):
            key = f'tapstack_loop_frames_received_total{{queue="{queue}"}}'
            self.assertGreater(after[key], before[key], f"no SYN reached loop {queue}")
        self.assertEqual(self.refused(self.get(listener), "denied"), 16)
        self.assertEqual(self.metric("tapstack_listener_syns_refused_total",
                                     listener="0.0.0.0:8120", reason="denied"), 16)
        # Cleared in both loops: the next SYN is admitted wherever it lands.
        self.set_policy(listener, clear=True)
        for _ in range(8):
            self.connected(8120)
        self.assertFalse(self.get(listener).listener.admission.HasField("policy"))


if __name__ == "__main__":
    h.run()
