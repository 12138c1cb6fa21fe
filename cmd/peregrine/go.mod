module github.com/peregrine-rt/peregrine/cmd/peregrine

go 1.26
