module github.com/peregrine-rt/peregrine/pkg/bus

go 1.26
