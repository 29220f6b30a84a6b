#!/usr/bin/env python3
"""End to end: tapstackctl against a real tapstackd, human and JSON output, and exit codes
and messages taken from the gRPC status."""

import json
import queue
import re
import signal
import subprocess
import threading
import unittest

import harness as h


class Ctl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        h.create_tap("tse2ec")
        cls.daemon = h.Daemon(tap="tse2ec")
        cls.daemon.__enter__()
        try:
            cls.daemon.start()
        except BaseException:
            cls.daemon.__exit__(None, None, None)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.daemon.__exit__(None, None, None)

    def ctl(self, *args, expect=0):
        return h.run_ctl(self, *args, expect=expect)

    def json(self, *args):
        return json.loads(self.ctl("-o", "json", *args).stdout)

    def listener(self, port, backlog):
        endpoint_id = int(self.json("create")["id"])
        self.addCleanup(self.ctl, "close", str(endpoint_id), expect=None)
        self.ctl("bind", str(endpoint_id), str(port))
        listening = self.json("listen", str(endpoint_id), "--backlog", str(backlog))
        self.assertEqual(listening["state"], "TCP_STATE_LISTEN")
        self.assertEqual(listening["listener"]["accept_queue_limit"], backlog)
        return endpoint_id

    def test_create_prints_the_id_a_shell_can_use(self):
        # The demo's recipe: the id captured with $(...) drives the next commands.
        script = ('id=$("$0" create) && "$0" bind "$id" 8086 >/dev/null && '
                  '"$0" listen "$id" >/dev/null && "$0" -o json get "$id"')
        result = subprocess.run(["bash", "-c", script, h.Paths.tapstackctl], capture_output=True,
                                text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        listening = json.loads(result.stdout)
        self.addCleanup(self.ctl, "close", listening["id"], expect=None)
        self.assertEqual(listening["state"], "TCP_STATE_LISTEN")
        self.assertEqual(listening["local"]["port"], 8086)

    def test_create_bind_listen_accept_ls_close(self):
        created = self.ctl("create").stdout
        self.assertRegex(created, r"^\d+\n$")
        self.assertRegex(self.ctl("get", created.strip()).stdout, r"state:\s+INITIAL")
        self.ctl("close", created.strip())

        listener = self.listener(8080, backlog=4)
        sock = h.kernel_connect(8080)
        self.addCleanup(sock.close)
        h.poll("the connection to be queued",
               lambda: self.json("get", str(listener))["listener"]["accept_queue_depth"] == 1)

        table = self.ctl("ls").stdout.splitlines()
        self.assertEqual(table[0].split(), ["ID", "State", "Recv-Q", "Send-Q", "Local",
                                            "Address:Port", "Peer", "Address:Port", "Syn-Q"])
        row = next(line.split() for line in table if line.split()[0] == str(listener))
        # Bound to the wildcard, shown as ss shows it; its connections show the address.
        self.assertEqual(row, [str(listener), "LISTEN", "1", "4", "0.0.0.0:8080", "*:*", "0/4"])
        listeners = self.json("ls", "-l")["endpoints"]
        self.assertEqual([int(e["id"]) for e in listeners], [listener])

        accepted = self.ctl("accept", str(listener)).stdout
        port = sock.getsockname()[1]
        self.assertRegex(accepted, rf"remote:\s+{re.escape(h.KERNEL_ADDRESS)}:{port}")
        self.assertRegex(accepted, r"mss:\s+1460")
        connection = int(re.search(r"id:\s+(\d+)", accepted).group(1))
        detail = self.json("get", str(connection))
        self.assertEqual(detail["state"], "TCP_STATE_ESTABLISHED")
        self.assertEqual(detail["connection"]["listener_id"], str(listener))  # uint64 as text
        self.assertEqual(detail["remote"]["port"], port)
        row = next(line.split() for line in self.ctl("ls").stdout.splitlines()
                   if line.split()[0] == str(connection))
        self.assertEqual(row[1:], ["ESTABLISHED", "0", "0", f"{h.ENGINE_ADDRESS}:8080",
                                   f"{h.KERNEL_ADDRESS}:{port}"])
        self.assertEqual(self.ctl("close", str(connection)).stdout.strip(),
                         f"closed {connection}")
        self.assertEqual(h.wait_closed_by_peer(sock), "fin")

    def test_stream_accept_closes_after_delivery(self):
        listener = self.listener(8082, backlog=8)
        process = subprocess.Popen([h.Paths.tapstackctl, "accept", str(listener), "--stream",
                                    "--after", "close", "--count", "3", "--quiet"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(process.kill)
        h.poll("the stream to register",
               lambda: self.json("get", str(listener))["listener"].get("accept_waiters") == 1)
        sockets = [h.kernel_connect(8082) for _ in range(3)]
        for s in sockets:
            self.addCleanup(s.close)
        out, err = process.communicate(timeout=20)
        self.assertEqual(process.returncode, 0, err)
        self.assertEqual(out.strip(), "3")
        for s in sockets:
            self.assertEqual(h.wait_closed_by_peer(s), "fin")
        self.assertIn("--after must be keep, close or abort",
                      self.ctl("accept", str(listener), "--stream", "--after", "x",
                               expect=64).stderr)

    def test_rotate_cookie_secret(self):
        self.assertEqual(self.ctl("rotate-cookie-secret").stdout.strip(),
                         "SYN-cookie secret rotated")

    def test_connect_and_abort(self):
        server = h.kernel_listener(9000)
        self.addCleanup(server.close)
        endpoint = self.json("create")["id"]
        connected = self.json("connect", endpoint, f"{h.KERNEL_ADDRESS}:9000")
        self.assertEqual(connected["state"], "TCP_STATE_ESTABLISHED")
        peer, _ = server.accept()
        self.addCleanup(peer.close)
        self.assertEqual(self.ctl("close", endpoint, "--abort").stdout.strip(),
                         f"aborted {endpoint}")
        self.assertEqual(h.wait_closed_by_peer(peer), "rst")

    def test_stats_and_config(self):
        stats_text = self.ctl("stats").stdout
        self.assertRegex(stats_text, r"(?m)^passive_opens\s+\d+$")
        self.assertIn("dropped, by reason:", stats_text)
        self.assertRegex(stats_text, r"(?m)^  accept_queue_full\s+\d+$")
        stats = self.json("stats")
        self.assertIn("syncookies_sent", [c["name"] for c in stats["counters"]])
        self.assertEqual(len(stats["endpoints"]), 13)

        self.assertRegex(self.ctl("config").stdout, r"(?m)^syncookies\s+auto$")
        changed = self.ctl("config", "syncookies=always", "syn_retries=3").stdout
        self.addCleanup(self.ctl, "config", "syncookies=auto", "syn_retries=6")
        self.assertRegex(changed, r"(?m)^syncookies\s+always$")
        self.assertRegex(changed, r"(?m)^syn_retries\s+3$")
        config = self.json("config")
        self.assertEqual(config["tunables"]["syncookies"], "SYN_COOKIE_MODE_ALWAYS")
        self.assertEqual(config["tunables"]["syn_retries"], 3)
        self.assertEqual(config["tap"], "tse2ec")

    def test_errors_exit_with_the_grpc_code(self):
        missing = self.ctl("get", "987654321", expect=5)
        self.assertEqual(missing.stderr.strip(), "tapstackctl: NOT_FOUND: no endpoint 987654321")
        self.listener(8081, backlog=2)
        other = self.json("create")["id"]
        self.addCleanup(self.ctl, "close", other, expect=None)
        self.assertIn("ALREADY_EXISTS", self.ctl("bind", other, "8081", expect=6).stderr)
        self.assertIn("FAILED_PRECONDITION", self.ctl("listen", other, expect=9).stderr)
        self.assertIn("INVALID_ARGUMENT", self.ctl("bind", other, "70000", expect=3).stderr)
        refused = self.ctl("connect", other, f"{h.KERNEL_ADDRESS}:9", expect=14)
        self.assertIn("UNAVAILABLE: connection to 198.18.0.1:9 refused", refused.stderr)
        self.assertIn("unknown command", self.ctl("frobnicate", expect=64).stderr)
        self.assertIn("missing ID", self.ctl("get", expect=64).stderr)
        self.ctl("--server", "127.0.0.1:1", "health", expect=14)
        self.assertEqual(self.ctl("health").stdout.strip(), "SERVING")

    def watch_lines(self, *args):
        """Starts `tapstackctl watch`, and returns (process, queue of its output lines)."""
        process = subprocess.Popen([h.Paths.tapstackctl, *args, "watch"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in process.stdout],
                         daemon=True).start()
        def stop():
            if process.poll() is None:
                process.kill()
            process.wait()
            process.stdout.close()
            process.stderr.close()

        self.addCleanup(stop)
        return process, lines

    def bound_endpoint(self):
        endpoint = self.json("create")["id"]
        self.ctl("bind", endpoint, "0")
        self.ctl("close", endpoint)
        return endpoint

    def first_line_about(self, lines, endpoint, attempts=100):
        """Reads lines until one is an event about `endpoint` (bounded)."""
        for _ in range(attempts):
            line = lines.get(timeout=10)
            if line.startswith("{"):
                if json.loads(line).get("event", {}).get("endpoint_id") == str(endpoint):
                    return line
            elif f" endpoint {endpoint} " in line:
                return line
        self.fail(f"no event about endpoint {endpoint}")

    def synchronise(self, lines):
        """The watch registers at an unknown moment: make events until it prints one."""
        for _ in range(50):
            endpoint = self.bound_endpoint()
            try:
                return self.first_line_about(lines, endpoint, attempts=1)
            except queue.Empty:
                continue
        self.fail("tapstackctl watch printed nothing")

    def test_watch(self):
        process, lines = self.watch_lines("-o", "json")
        self.synchronise(lines)
        endpoint = self.bound_endpoint()
        event = json.loads(self.first_line_about(lines, endpoint))["event"]
        self.assertEqual(event["kind"], "KIND_STATE_CHANGED")
        self.assertEqual(event["state"], "TCP_STATE_BOUND")
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)

        process, lines = self.watch_lines()
        self.synchronise(lines)
        endpoint = self.bound_endpoint()
        self.assertRegex(self.first_line_about(lines, endpoint),
                         rf"^#\d+ STATE_CHANGED endpoint {endpoint} BOUND$")
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


if __name__ == "__main__":
    h.run()
