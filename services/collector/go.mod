module github.com/peregrine-rt/peregrine/services/collector

go 1.26.0

require (
	github.com/cilium/ebpf v0.22.0
	github.com/google/go-cmp v0.7.0
	github.com/nats-io/nats.go v1.55.0
	github.com/peregrine-rt/peregrine/pkg/schema v0.0.0
)

require (
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	golang.org/x/crypto v0.58.0 // indirect
)

require (
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	golang.org/x/sys v0.49.0
)

tool github.com/cilium/ebpf/cmd/bpf2go

replace github.com/peregrine-rt/peregrine/pkg/schema => ../../pkg/schema

replace github.com/peregrine-rt/peregrine/pkg/bus => ../../pkg/bus

replace github.com/peregrine-rt/peregrine/pkg/telemetry => ../../pkg/telemetry
