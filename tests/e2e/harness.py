"""Shared machinery of tapstack's end-to-end tests.

Each test script calls run(). It then runs twice:
  * outside, as the guardian: creates a network namespace tapstack-e2e-<random> with loopback
    up, runs itself again inside it (`ip netns exec`), and on every exit path kills whatever
    still runs in the namespace and deletes it;
  * inside, as the test: unittest, with the daemon, Prometheus and kernel sockets all in the
    namespace. Only 198.18.0.0/15 addresses are used; the root namespace is never touched.

Waiting is always polling a condition with a bound on time (poll()), never a bare sleep.
"""

import argparse
import contextlib
import functools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

ENGINE_ADDRESS = "198.18.0.2"
KERNEL_ADDRESS = "198.18.0.1"
PREFIX = 24
GRPC_ADDRESS = "127.0.0.1:50051"
METRICS_ADDRESS = "127.0.0.1:9464"
NETNS_ENV = "TAPSTACK_E2E_NETNS"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "grpc_proxy",
                   "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY")

# In tapstackd's log, these mean a sanitizer build found a bug.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(E2E_DIR))


class Paths:
    """Where the binaries and protos are (from the command line or the usual build dir)."""
    tapstackd = os.path.join(REPO_ROOT, "build-server", "server", "tapstackd")
    tapstackctl = os.path.join(REPO_ROOT, "build-server", "server", "tapstackctl")
    proto_root = os.path.join(REPO_ROOT, "proto")


def run():
    """Entry point of every test script."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--tapstackd")
    parser.add_argument("--tapstackctl")
    parser.add_argument("--proto-root")
    known, rest = parser.parse_known_args()
    for name in ("tapstackd", "tapstackctl", "proto_root"):
        if getattr(known, name):
            setattr(Paths, name, os.path.abspath(getattr(known, name)))
    if os.environ.get(NETNS_ENV):
        unittest.main(module="__main__", argv=[sys.argv[0], "-v", *rest])
    else:
        sys.exit(_guard_namespace())


def _guard_namespace():
    namespace = "tapstack-e2e-" + secrets.token_hex(4)
    child = None

    def terminate(signum, frame):  # ctest's timeout: unwind so that `finally` cleans up
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up"],
                       check=True)
        env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
        env[NETNS_ENV] = namespace
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        child = subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable, *sys.argv],
                                 env=env, start_new_session=True)
        return child.wait()
    finally:
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        _kill_namespace_processes(namespace)
        subprocess.run(["ip", "netns", "delete", namespace], check=False)


def _kill_namespace_processes(namespace):
    for _ in range(50):  # bounded: processes die at once on SIGKILL
        pids = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True,
                              text=True).stdout.split()
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.05)


def poll(what, condition, timeout=10.0, interval=0.05):
    """Calls condition() until it returns something truthy (which is returned), at most for
    `timeout` seconds; fails the test with `what` otherwise."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - conditions may fail until ready
            last_error = e
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)


@functools.lru_cache(maxsize=None)
def protos():
    """tapstack.v1, grpc.health.v1 and grpc.reflection.v1alpha stubs, generated now with
    Debian's grpc_tools into a temporary directory."""
    import grpc_tools
    from grpc_tools import protoc
    out = tempfile.mkdtemp(prefix="tapstack-e2e-protos-")
    # grpc.health / grpc.reflection would clash with the grpc Python package: the standard
    # protos are compiled from another path (the proto packages, so the services, are the same).
    extra = os.path.join(out, "src", "e2e_std")
    os.makedirs(extra)
    shutil.copy(os.path.join(Paths.proto_root, "grpc", "health", "v1", "health.proto"),
                os.path.join(extra, "health.proto"))
    shutil.copy(os.path.join(E2E_DIR, "protos", "grpc", "reflection", "v1alpha",
                             "reflection.proto"), os.path.join(extra, "reflection.proto"))
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    files = ["tapstack/v1/endpoints.proto", "tapstack/v1/stack.proto", "tapstack/v1/capture.proto"]
    rc = protoc.main(["protoc", f"-I{Paths.proto_root}", f"-I{os.path.join(out, 'src')}",
                      f"-I{well_known}", f"--python_out={out}", f"--grpc_python_out={out}",
                      *files, "e2e_std/health.proto", "e2e_std/reflection.proto"])
    if rc != 0:
        raise RuntimeError("grpc_tools.protoc failed")
    sys.path.insert(0, out)
    import importlib
    modules = {}
    for name in ("tapstack.v1.endpoints_pb2", "tapstack.v1.endpoints_pb2_grpc",
                 "tapstack.v1.stack_pb2", "tapstack.v1.stack_pb2_grpc",
                 "tapstack.v1.capture_pb2", "tapstack.v1.capture_pb2_grpc",
                 "e2e_std.health_pb2", "e2e_std.health_pb2_grpc",
                 "e2e_std.reflection_pb2", "e2e_std.reflection_pb2_grpc"):
        modules[name.split(".")[-1]] = importlib.import_module(name)
    return type("Protos", (), modules)


def grpc_channel(target=GRPC_ADDRESS, credentials=None, options=()):
    import grpc
    # Short reconnect backoff: readiness is polled, and gRPC's default backoff (1 s, growing)
    # would turn "the daemon is up" into "the daemon is up and a second or two later".
    # (grpc.min_reconnect_backoff_ms is also the connect timeout: left at its default.)
    options = [("grpc.enable_http_proxy", 0), ("grpc.initial_reconnect_backoff_ms", 100),
               ("grpc.max_reconnect_backoff_ms", 500), *options]
    if credentials is None:
        return grpc.insecure_channel(target, options=options)
    return grpc.secure_channel(target, credentials, options=options)


class Stubs:
    def __init__(self, channel):
        p = protos()
        self.channel = channel
        self.endpoints = p.endpoints_pb2_grpc.EndpointsStub(channel)
        self.stack = p.stack_pb2_grpc.StackStub(channel)
        self.capture = p.capture_pb2_grpc.CaptureStub(channel)
        self.health = p.health_pb2_grpc.HealthStub(channel)


def run_ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def create_tap(name):
    """A persistent TAP with the kernel's side of the link (198.18.0.1/24) on it."""
    run_ip("tuntap", "add", "dev", name, "mode", "tap")
    configure_kernel_side(name)
    return name


def configure_kernel_side(name):
    run_ip("addr", "add", f"{KERNEL_ADDRESS}/{PREFIX}", "dev", name)
    run_ip("link", "set", name, "up")


def scrape(address=METRICS_ADDRESS):
    """/metrics as {sample: value}, sample being the name with its labels as exposed."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def rss_kib(pid):
    """A process's resident memory in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def run_ctl(test, *args, expect=0):
    """Runs tapstackctl with `args`; unless `expect` is None, `test` asserts its exit status."""
    result = subprocess.run([Paths.tapstackctl, *args], capture_output=True, text=True, timeout=30)
    if expect is not None:
        test.assertEqual(result.returncode, expect,
                         f"tapstackctl {' '.join(args)}: {result.stdout}{result.stderr}")
    return result


def started_class_daemon(*flags, tap):
    """A started daemon for a test class's setUpClass, with the kernel side of `tap` configured;
    on failure it is stopped again before the error goes on. The caller stops it in
    tearDownClass with __exit__(None, None, None)."""
    daemon = Daemon(*flags, tap=tap)
    daemon.serves_a_class = True
    daemon.__enter__()
    try:
        daemon.start()
        configure_kernel_side(tap)
    except BaseException:
        daemon.__exit__(*sys.exc_info())
        raise
    return daemon


class DaemonAndKernelPeerCase(unittest.TestCase):
    """A test class sharing one tapstackd (started with DAEMON_FLAGS on TAP) and a kernel
    listener on KERNEL_PORT, with connect() for connections tapstackd opens to it."""

    TAP = None
    DAEMON_FLAGS = ()
    KERNEL_PORT = None
    PEER_TIMEOUT = 30  # seconds a kernel socket's calls may block

    @classmethod
    def setUpClass(cls):
        cls.daemon = started_class_daemon(*cls.DAEMON_FLAGS, tap=cls.TAP)
        cls.pb = protos().endpoints_pb2
        cls.endpoints = cls.daemon.stubs().endpoints
        cls.kernel = kernel_listener(cls.KERNEL_PORT)
        cls.kernel.settimeout(10)

    @classmethod
    def tearDownClass(cls):
        cls.kernel.close()
        cls.daemon.__exit__(None, None, None)

    def connect(self):
        """A connection tapstackd opened to the kernel listener: (endpoint id, kernel socket)."""
        created = self.endpoints.CreateEndpoint(self.pb.CreateEndpointRequest(), timeout=5)
        self.endpoints.Connect(self.pb.ConnectRequest(id=created.id, remote=self.pb.SocketAddress(
            address=KERNEL_ADDRESS, port=self.KERNEL_PORT)), timeout=10)
        peer, _ = self.kernel.accept()
        peer.settimeout(self.PEER_TIMEOUT)
        self.addCleanup(peer.close)
        self.addCleanup(self.close_quietly, created.id)
        return created.id, peer

    def close_quietly(self, endpoint_id):
        import grpc
        try:
            self.endpoints.Close(self.pb.CloseRequest(id=endpoint_id, abort=True), timeout=5)
        except grpc.RpcError:
            pass


def read_text(path):
    """A file's text, or "" when it cannot be read."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def link_exists(name):
    return run_ip("link", "show", "dev", name, check=False).returncode == 0


class Daemon:
    """tapstackd in the test's namespace. Use as a context manager: it is killed on exit if
    the test did not stop it."""

    def __init__(self, *flags, tap="tap0", address=f"{ENGINE_ADDRESS}/{PREFIX}",
                 grpc_listen=GRPC_ADDRESS, metrics_listen=METRICS_ADDRESS, credentials=None,
                 channel_options=()):
        self.flags = list(flags)
        self.tap = tap
        self.address = address  # the IPv4 --address: the daemon takes one
        self.grpc_listen = grpc_listen
        self.metrics_listen = metrics_listen
        self.credentials = credentials
        self.channel_options = channel_options
        self.process = None
        # A class's daemon (started_class_daemon) must live until the class ends: one that
        # died on the way is a failure with its log, not a cascade of refused connections.
        self.serves_a_class = False
        self.log_file = tempfile.NamedTemporaryFile(prefix="tapstackd-", suffix=".log",
                                                    delete=False)
        self._channel = None

    def command(self):
        return [Paths.tapstackd, "--tap", self.tap, "--address", self.address,
                "--grpc-listen", self.grpc_listen, "--metrics-listen", self.metrics_listen,
                *self.flags]

    def start(self, wait=True):
        self.process = subprocess.Popen(self.command(), stdout=self.log_file,
                                        stderr=subprocess.STDOUT)
        if wait:
            self.wait_serving()
        return self

    def channel(self):
        if self._channel is None:
            target = self.grpc_listen
            self._channel = grpc_channel(target, self.credentials, self.channel_options)
        return self._channel

    def stubs(self):
        return Stubs(self.channel())

    def health_status(self, timeout=2.0):
        """The daemon's health, through a channel of its own: a channel that failed to connect
        waits out gRPC's reconnect backoff, a fresh one connects at once."""
        p = protos()
        with grpc_channel(self.grpc_listen, self.credentials, self.channel_options) as channel:
            return Stubs(channel).health.Check(p.health_pb2.HealthCheckRequest(),
                                               timeout=timeout).status

    def wait_serving(self, timeout=20.0):
        serving = protos().health_pb2.HealthCheckResponse.SERVING

        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"tapstackd exited with {self.process.returncode}:\n"
                                     + self.log())
            return self.health_status() == serving

        poll("tapstackd to report SERVING", ready, timeout=timeout)

    def stop(self, timeout=20.0):
        """SIGTERM, then the exit code (the process must be gone within `timeout`)."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def log(self):
        with open(self.log_file.name, errors="replace") as f:
            return f.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._channel is not None:
            self._channel.close()
        problem = None
        if self.serves_a_class and self.process is not None and self.process.poll() is not None:
            problem = f"tapstackd exited during the tests, status {self.process.returncode}"
        elif self.process is not None and self.process.poll() is None:
            # Still running: it must also stop cleanly, whatever state the test left it in.
            try:
                if self.stop() != 0:
                    problem = f"tapstackd exited with {self.process.returncode} on SIGTERM"
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                problem = "tapstackd did not stop on SIGTERM"
        log = self.log()
        if any(marker in log for marker in SANITIZER_MARKERS):
            problem = "tapstackd's log has a sanitizer report"
        if exc[0] is not None or problem:
            sys.stderr.write("---- tapstackd log ----\n" + log + "---- end ----\n")
        self.log_file.close()
        os.unlink(self.log_file.name)
        if problem and exc[0] is None:
            raise AssertionError(problem)
        return False


def kernel_connect(port, timeout=5.0):
    """A kernel TCP connection to the engine (blocking, handshake done when it returns)."""
    return socket.create_connection((ENGINE_ADDRESS, port), timeout=timeout)


def kernel_listener(port, backlog=16):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((KERNEL_ADDRESS, port))
    s.listen(backlog)
    s.settimeout(5.0)
    return s


def wait_closed_by_peer(sock, timeout=5.0):
    """What the kernel sees when the engine closes: 'fin' or 'rst'."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(1)
    except ConnectionResetError:
        return "rst"
    return "fin" if data == b"" else "data"
