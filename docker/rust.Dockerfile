# event-processor and verifier (release), in one image. Built from the repository root:
#   docker build -f docker/rust.Dockerfile -t cdc-bench-tools .
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake libclang-dev clang && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release -p event-processor -p verifier

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/event-processor /src/target/release/verifier /usr/local/bin/
ENTRYPOINT []
CMD ["event-processor"]
