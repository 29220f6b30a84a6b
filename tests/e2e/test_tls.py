#!/usr/bin/env python3
"""End to end: gRPC over TLS and mutual TLS. Certificates are made for the test with openssl:
a CA the daemon trusts, a server and a client certificate it signed, and a rogue CA with a
client certificate of its own."""

import os
import shutil
import subprocess
import tempfile
import unittest

import grpc

import harness as h


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
            "-subj", f"/CN=tapstack e2e {name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)


def make_cert(directory, name, ca, extensions):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
            cwd=directory)
    with open(os.path.join(directory, f"{name}.ext"), "w") as f:
        f.write(extensions)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
            cwd=directory)


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="tapstack-e2e-tls-")
        make_ca(cls.dir, "ca")
        make_ca(cls.dir, "rogue-ca")
        make_cert(cls.dir, "server", "ca",
                  "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        make_cert(cls.dir, "client", "ca", "extendedKeyUsage=clientAuth\n")
        make_cert(cls.dir, "rogue-client", "rogue-ca", "extendedKeyUsage=clientAuth\n")
        h.create_tap("tse2et")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def credentials(self, ca="ca", client=None):
        if client is None:
            return grpc.ssl_channel_credentials(root_certificates=self.read(f"{ca}.pem"))
        return grpc.ssl_channel_credentials(root_certificates=self.read(f"{ca}.pem"),
                                            private_key=self.read(f"{client}.key"),
                                            certificate_chain=self.read(f"{client}.pem"))

    def check(self, credentials):
        """The health status, or the status code of the failed call."""
        p = h.protos()
        with h.grpc_channel(h.GRPC_ADDRESS, credentials) as channel:
            try:
                return h.Stubs(channel).health.Check(p.health_pb2.HealthCheckRequest(),
                                                     timeout=5).status
            except grpc.RpcError as e:
                return e.code()

    def tls_flags(self):
        return ["--grpc-tls-cert", self.path("server.pem"), "--grpc-tls-key",
                self.path("server.key")]

    def test_tls(self):
        serving = h.protos().health_pb2.HealthCheckResponse.SERVING
        with h.Daemon(*self.tls_flags(), tap="tse2et", credentials=self.credentials()) as d:
            d.start()
            self.assertEqual(self.check(self.credentials()), serving)
            # Plaintext, or a client that trusts another CA, gets nowhere.
            self.assertEqual(self.check(None), grpc.StatusCode.UNAVAILABLE)
            self.assertEqual(self.check(self.credentials(ca="rogue-ca")),
                             grpc.StatusCode.UNAVAILABLE)
            ctl = subprocess.run([h.Paths.tapstackctl, "--tls-ca", self.path("ca.pem"),
                                  "health"], capture_output=True, text=True, timeout=20)
            self.assertEqual((ctl.returncode, ctl.stdout.strip()), (0, "SERVING"), ctl.stderr)
            self.assertEqual(d.stop(), 0)

    def test_mutual_tls(self):
        serving = h.protos().health_pb2.HealthCheckResponse.SERVING
        flags = [*self.tls_flags(), "--grpc-client-ca", self.path("ca.pem")]
        with h.Daemon(*flags, tap="tse2et",
                      credentials=self.credentials(client="client")) as d:
            d.start()
            self.assertEqual(self.check(self.credentials(client="client")), serving)
            self.assertEqual(self.check(self.credentials()), grpc.StatusCode.UNAVAILABLE)
            self.assertEqual(self.check(self.credentials(client="rogue-client")),
                             grpc.StatusCode.UNAVAILABLE)
            self.assertEqual(self.check(None), grpc.StatusCode.UNAVAILABLE)
            ctl = [h.Paths.tapstackctl, "--tls-ca", self.path("ca.pem"), "health"]
            refused = subprocess.run(ctl, capture_output=True, text=True, timeout=20)
            self.assertEqual(refused.returncode, grpc.StatusCode.UNAVAILABLE.value[0])
            accepted = subprocess.run(ctl + ["--tls-cert", self.path("client.pem"),
                                             "--tls-key", self.path("client.key")],
                                      capture_output=True, text=True, timeout=20)
            self.assertEqual(accepted.returncode, 0, accepted.stderr)
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    h.run()
