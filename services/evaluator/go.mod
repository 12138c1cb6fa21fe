module github.com/peregrine-rt/peregrine/services/evaluator

go 1.26
