module github.com/peregrine-rt/peregrine/services/notifier

go 1.26
