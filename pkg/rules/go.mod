module github.com/peregrine-rt/peregrine/pkg/rules

go 1.26
