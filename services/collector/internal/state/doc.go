// Package state keeps the collector's view of the machine: a process table
// seeded from /proc at start and kept by the probe's fork, exec and exit
// records, and one fd table per process.
//
// Every record header carries the current credentials, namespaces,
// cgroups and tty of its task, so [Table.Touch] refreshes a process from
// each record; fork, exec and exit records add, replace and remove
// processes. A [Table] is not safe for concurrent use: one goroutine
// applies records in ring order.
package state
