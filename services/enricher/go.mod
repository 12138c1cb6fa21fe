module github.com/peregrine-rt/peregrine/services/enricher

go 1.26.0

require (
	github.com/google/go-cmp v0.7.0
	github.com/peregrine-rt/peregrine/pkg/schema v0.0.0
	google.golang.org/grpc v1.82.1
	k8s.io/cri-api v0.37.2
)

require (
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260526163538-3dc84a4a5aaa // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/peregrine-rt/peregrine/pkg/schema => ../../pkg/schema
