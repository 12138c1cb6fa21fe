module github.com/peregrine-rt/peregrine/services/enricher

go 1.26
