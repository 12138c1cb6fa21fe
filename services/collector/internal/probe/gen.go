package probe

//go:generate go tool bpf2go -target amd64 -type rec_hdr -type item_sock -type item_file -type item_fork probe ../../../../bpf/probe.bpf.c -- -I../../../../bpf -O2 -g -Wall -Werror
