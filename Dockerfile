# One image with every stage: /peregrine/{collector,enricher,evaluator,notifier}.
# The BPF objects are committed, so the build needs no clang.
FROM golang:1.26 AS build
WORKDIR /src
COPY . .
RUN make build

FROM gcr.io/distroless/static-debian12
COPY --from=build /src/bin/ /peregrine/
ENTRYPOINT ["/peregrine/peregrine"]
