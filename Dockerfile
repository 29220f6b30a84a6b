# tapstack image: build on Debian bookworm with the -dev packages, run on bookworm-slim with only
# the runtime libraries. Base images are build arguments so a locally imported base works where
# no registry can be reached (see README, "Container image").
ARG BASE=debian:bookworm
ARG RUNTIME_BASE=${BASE}

FROM ${BASE} AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ make cmake ninja-build pkg-config libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev \
      protobuf-compiler prometheus-cpp-dev libtins-dev libgtest-dev libgmock-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY proto proto
COPY stack stack
COPY server server
COPY tests tests
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTAPSTACK_BENCH=OFF \
    && cmake --build build -j2 --target tapstackd tapstackctl \
    && strip build/server/tapstackd build/server/tapstackctl

FROM ${RUNTIME_BASE}
COPY --from=build /src/build/server/tapstackd /src/build/server/tapstackctl /usr/local/bin/
# Creating the TAP and setting it up need CAP_NET_ADMIN. The runtime grants it to the container
# (--cap-add NET_ADMIN); the file capability lets the unprivileged user use it, nothing more.
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libcap2-bin \
    && setcap cap_net_admin+ep /usr/local/bin/tapstackd \
    && apt-get purge -y libcap2-bin && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home --shell /usr/sbin/nologin tapstack
USER tapstack
EXPOSE 50051 9464
ENTRYPOINT ["/usr/local/bin/tapstackd"]
