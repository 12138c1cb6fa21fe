module github.com/peregrine-rt/peregrine/pkg/rules

go 1.26

require (
	github.com/google/go-cmp v0.7.0
	github.com/peregrine-rt/peregrine/pkg/schema v0.0.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
)

replace github.com/peregrine-rt/peregrine/pkg/schema => ../schema
