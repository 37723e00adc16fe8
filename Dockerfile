# The sluice image: one static binary on distroless, run as a non-root user,
# as deploy/kubernetes/deployment.yaml runs it. From the repository root:
#
#   docker build -t sluice:latest .
#   docker run -p 8080:8080 -v "$PWD/sluice.yaml:/etc/sluice/sluice.yaml:ro" sluice:latest
#
# A release's image names its release (sluice version, the
# sluice_build_info metric, the start's log line; "devel" without it):
#
#   docker build --build-arg SLUICE_RELEASE=v1.4.0 -t sluice:v1.4.0 .
#
# The build context has no .git (.dockerignore), so no revision is recorded.
#
# The config must listen on 0.0.0.0:8080 (the default, 127.0.0.1, is not
# reachable from outside the container). A relative SQLite store (the
# default, sluice.db) is written under /home/nonroot; on Kubernetes use
# PostgreSQL, as the manifests do. go test ./deploy/ checks this file
# against the Deployment and that its build command gives a static binary.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG SLUICE_RELEASE=devel
RUN CGO_ENABLED=0 go build -trimpath -ldflags=-X=github.com/sluicehq/sluice.Release=${SLUICE_RELEASE} -o /out/sluice ./cmd/sluice

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sluice /sluice
WORKDIR /home/nonroot
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/sluice"]
CMD ["serve", "-c", "/etc/sluice/sluice.yaml"]
