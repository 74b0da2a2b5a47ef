# podprof's container image: built on Debian 12 with the same build as scripts/test.sh's
# plain build, run on a slim Debian 12 with only the runtime libraries.
FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config libcurl4-openssl-dev libcjson-dev libyaml-dev \
      libprotobuf-c-dev protobuf-c-compiler libelf-dev libmicrohttpd-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPODPROF_TESTS=OFF \
    && cmake --build /build -j"$(nproc)" --target podprof \
    && strip -o /podprof /build/agent/podprof

FROM debian:bookworm-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="podprof" \
      org.opencontainers.image.description="Kubernetes profiling agent for Go services" \
      org.opencontainers.image.version="${VERSION}"
RUN apt-get update && apt-get install -y --no-install-recommends \
      libcurl4 libcjson1 libyaml-0-2 libprotobuf-c1 libelf1 libmicrohttpd12 zlib1g \
      ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /podprof /usr/bin/podprof
# the node DaemonSet runs as root with CAP_SYS_PTRACE; everything else as nobody
USER 65534:65534
ENTRYPOINT ["/usr/bin/podprof"]
CMD ["--help"]
