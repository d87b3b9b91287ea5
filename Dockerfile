# The image of `racelab serve`: racelab, the Go toolchain that the runc
# sandbox bind-mounts read-only into its containers, gcc (cgo and -race),
# runc and crun, and the sandbox's warm build cache, made here at build time so
# that a container serves in seconds.
#
#   docker build -t racelab .
#   docker run --privileged --cgroupns=private -p 8080:8080 racelab
#
# The sandbox starts runc containers inside this one, as root: it needs a
# privileged container and cannot run as a non-root user (see README,
# "Running it in a container", for what that means for security). The
# base images are build arguments, so that a build without a registry can
# pass images of its own (scripts/image-test does).

ARG GO_IMAGE=golang:1.26-bookworm
ARG BASE_IMAGE=debian:bookworm

# Build racelab. It needs no cgo, so the binary is static.
FROM ${GO_IMAGE} AS build
ENV GOTOOLCHAIN=local CGO_ENABLED=0
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -buildvcs=false -o /out/racelab .

FROM ${BASE_IMAGE}
# gcc and libc6-dev build -race and cgo programs; runc starts the
# sandbox's containers, or crun with --runtime crun (RACELAB_RUNTIME=crun:
# the same containers for a third of runc's CPU, what a class of repeats
# is made of; Debian's 1.8.1, which make test-crun tests); ca-certificates
# let racelab warm fetch the modules the sandbox provides
# (golang.org/x/sync); tini, as PID 1, reaps any process that outlives its
# runtime and passes signals on to racelab.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates crun gcc libc6-dev runc tini \
 && rm -rf /var/lib/apt/lists/*
# The toolchain lives under /usr, which every sandbox container mounts
# read-only: racelab finds it with `go env GOROOT`, so PATH must name it.
COPY --from=build /usr/local/go /usr/local/go
COPY --from=build /out/racelab /usr/local/bin/racelab
ENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    GOTOOLCHAIN=local \
    RACELAB_STATE_DIR=/var/lib/racelab \
    RACELAB_CACHE_DIR=/var/cache/racelab
# The warm build cache (the packages lessons and learners' edits import,
# with and without -race, in every mode) and the provided modules, built now by
# trusted code. It is keyed by GOROOT, `go version` and `gcc --version`:
# it is used only with exactly this toolchain and gcc. It lives outside
# the state directory, so a volume mounted on /var/lib/racelab does not
# hide it.
RUN racelab warm
EXPOSE 8080
# /readyz answers 200 once the sandbox is ready. The image has no curl:
# bash's /dev/tcp asks instead. (Podman keeps HEALTHCHECK only in the
# docker image format: podman build --format docker.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["racelab", "serve", "--addr", "0.0.0.0:8080", "--state-dir", "/var/lib/racelab"]
