# podprof's container image.
#
# Build stage: Debian 12 with the -dev packages, and the build of scripts/run.sh (the
# README's): the same two cmake commands, with the source tree at /src. Runtime stage:
# Debian 12 slim with the runtime libraries podprof links and CA certificates, podprof
# as the entrypoint, a non-root default user (the chart runs the node DaemonSet as root
# with CAP_SYS_PTRACE and DAC_READ_SEARCH, everything else as 65534).
#
#   docker build -t podprof:0.1.0 .
#
# tests/integration/image_check.sh keeps this file honest (packages against the
# libraries the binary links, build commands against scripts/run.sh);
# tests/integration/image_build.sh runs its steps in debootstrapped Debian roots.

FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libcurl4-openssl-dev libcjson-dev libyaml-dev libprotobuf-c-dev protobuf-c-compiler \
      libelf-dev libmicrohttpd-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# the sources CMake reads, and nothing of a local build tree
COPY CMakeLists.txt /src/
COPY common/ /src/common/
COPY pprof/ /src/pprof/
COPY profiler/ /src/profiler/
COPY k8s/ /src/k8s/
COPY scraper/ /src/scraper/
COPY agent/ /src/agent/
COPY tests/ /src/tests/
RUN cmake -S /src -B /src/build/plain -DPODPROF_GO_CACHE=/src/build/go-programs \
 && cmake --build /src/build/plain -j"$(nproc)" --target podprof \
 && strip -o /podprof /src/build/plain/agent/podprof

FROM debian:bookworm-slim
ARG VERSION=0.1.0
ARG SOURCE=https://github.com/podprof/podprof
LABEL org.opencontainers.image.title="podprof" \
      org.opencontainers.image.description="Kubernetes profiling agent for Go services (Coroot-compatible)" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}"
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcurl4 libcjson1 libyaml-0-2 libelf1 libmicrohttpd12 zlib1g \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /podprof /usr/bin/podprof
USER 65534:65534
ENTRYPOINT ["/usr/bin/podprof"]
CMD ["--help"]
