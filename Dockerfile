# tapstack image: tapstackd (entrypoint), tapstackctl and iproute2 on Debian bookworm-slim.
#
# Built on debian:bookworm with the -dev packages; the runtime stage gets only the shared
# libraries the two binaries link against (found with ldd + dpkg -S in the build stage, so a new
# dependency cannot be forgotten). The base images are build arguments, so the image builds from
# a locally imported base where no registry can be reached (tests/deploy/image_test.sh):
#   podman build --build-arg BASE=localhost/bookworm-base \
#                --build-arg RUNTIME_BASE=localhost/bookworm-slim-base -t tapstack .
#
# Privileges. tapstackd runs as the unprivileged user tapstack (10001:10001). It needs
# CAP_NET_ADMIN only to create a TAP device (TUNSETIFF on a new device) and to bring it up
# (SIOCSIFFLAGS); attaching to an existing TAP that its user owns needs no capability at all. So:
#   - with a TAP made beforehand for user 10001 (`ip tuntap add dev tapstack0 mode tap user 10001`,
#     what deploy/kubernetes's tap-setup init container does), run with no capabilities;
#   - to let tapstackd create its own TAP, give it CAP_NET_ADMIN: podman grants --cap-add
#     capabilities to a non-root user (ambient set); Docker and Kubernetes do not, so there run as
#     uid 0 with only NET_ADMIN (--user 0 --cap-drop ALL --cap-add NET_ADMIN), or build with
#     --build-arg TAPSTACKD_FILE_CAPS=cap_net_admin+ep to put a file capability on the binary
#     (then every container must have NET_ADMIN in its bounding set, or exec fails with EPERM).
# Either way the container needs /dev/net/tun (--device /dev/net/tun), and the TAP is created in
# the container's network namespace: never run it with --network host.
#
# The kernel cookie path (README, Kernel cookie path; --kernel-cookies, on by default) is a tc BPF
# program on the TAP's egress that answers SYN floods before they reach the TAP's queue. Loading
# and attaching it needs CAP_BPF (its maps, loading it), CAP_NET_ADMIN (a tc program, attaching
# it) and CAP_PERFMON (the verifier accepts its variable offsets into the packet only with it),
# and a seccomp profile that lets a process with CAP_BPF call bpf() (Docker's default does from
# 23.0, containerd's from 1.7). Without them tapstackd logs one warning and answers SYN cookies
# in user space, as well as the TAP's queue lets it. To have it:
#   docker run --user 0 --cap-drop ALL --cap-add BPF --cap-add NET_ADMIN --cap-add PERFMON \
#     --security-opt no-new-privileges --device /dev/net/tun tapstack ...
# (as root because Docker and Kubernetes give added capabilities to uid 0 only; podman gives
# them to 10001 too), or build with
# --build-arg TAPSTACKD_FILE_CAPS=cap_bpf,cap_net_admin,cap_perfmon+ep (file capabilities are not
# gained under no-new-privileges, Kubernetes' allowPrivilegeEscalation: false). The Kubernetes
# material (deploy/kubernetes/base/deployment.yaml) runs it as root with only these three.
ARG BASE=debian:bookworm
ARG RUNTIME_BASE=debian:bookworm-slim

FROM ${BASE} AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       g++ make cmake ninja-build pkg-config libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev \
       protobuf-compiler prometheus-cpp-dev libssl-dev liburing-dev libtins-dev libgtest-dev libgmock-dev \
       clang libbpf-dev bpftool \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY proto proto
COPY stack stack
COPY server server
# The root CMakeLists.txt adds tests/ (it needs GTest and libtins to configure); only the two
# binaries are built.
COPY tests tests
ARG JOBS=2
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTAPSTACK_BENCH=OFF \
    && cmake --build build -j"${JOBS}" --target tapstackd tapstackctl \
    && strip build/server/tapstackd build/server/tapstackctl \
    && mkdir /out && cp build/server/tapstackd build/server/tapstackctl /out/
# The Debian packages that ship the shared libraries the binaries load.
RUN set -e; \
    for lib in $(ldd /out/tapstackd /out/tapstackctl | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u); do \
      pkg=; \
      for path in "$lib" "/usr$lib" "${lib#/usr}" "$(readlink -f "$lib")"; do \
        pkg=$(dpkg -S "$path" 2>/dev/null | head -n1 | cut -d: -f1) && [ -n "$pkg" ] && break; \
      done; \
      [ -n "$pkg" ] || { echo "no package ships $lib" >&2; exit 1; }; \
      echo "$pkg"; \
    done | sort -u > /out/runtime-packages.txt; \
    cat /out/runtime-packages.txt

FROM ${RUNTIME_BASE}
ARG TAPSTACKD_FILE_CAPS=
COPY --from=build /out/runtime-packages.txt /tmp/
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       $(cat /tmp/runtime-packages.txt) iproute2 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log /tmp/runtime-packages.txt \
    && groupadd --system --gid 10001 tapstack \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin tapstack
COPY --from=build /out/tapstackd /out/tapstackctl /usr/local/bin/
# setcap comes with libcap2-bin, which iproute2 depends on.
RUN if [ -n "${TAPSTACKD_FILE_CAPS}" ]; then setcap "${TAPSTACKD_FILE_CAPS}" /usr/local/bin/tapstackd; fi
LABEL org.opencontainers.image.title="tapstack" \
      org.opencontainers.image.description="Userspace TCP stack on a Linux TAP device: tapstackd (gRPC control plane, Prometheus metrics) and tapstackctl"
# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
# gRPC (--grpc-listen) and metrics (--metrics-listen); both listen on 127.0.0.1 unless told
# otherwise, e.g. --metrics-listen 0.0.0.0:9464. gRPC off loopback needs mutual TLS
# (--grpc-tls-cert/--grpc-tls-key/--grpc-client-ca) or --grpc-allow-insecure (README,
# Authentication).
EXPOSE 50051 9464
ENTRYPOINT ["/usr/local/bin/tapstackd"]
