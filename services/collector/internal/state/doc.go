// Package state keeps the collector's view of the machine: a process table
// seeded from /proc at start and kept by the probe's fork, exec and exit
// records, and one fd table per process.
//
// Every record header carries the current credentials, namespaces,
// cgroups and tty of its task (the probe sends them only when they may
// have changed; [record.Contexts] fills in the rest before the table sees
// a record), so [Table.Touch] refreshes a process from each record whose
// context is known; fork, exec and exit records add, replace and remove
// processes. A [Table] is not safe for concurrent use: one goroutine
// applies records in ring order.
package state
