package probe

//go:generate go tool bpf2go -target amd64 probe ../../../../bpf/probe.bpf.c -- -I../../../../bpf -O2 -g -Wall -Werror
