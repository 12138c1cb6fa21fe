module github.com/peregrine-rt/peregrine/pkg/telemetry

go 1.26
