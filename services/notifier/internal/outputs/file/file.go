// Package file appends each alert's Falco JSON as one line to a file, as
// Falcosidekick's file output does.
//
// Config (section "file", env FILE_*): outputfile (enables it), sync
// (fsync after each alert, so an accepted alert survives a power cut).
// The file is opened on the first alert with O_APPEND and kept open;
// writes from several goroutines never interleave.
package file

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// Config is the file section.
type Config struct {
	OutputFile string `yaml:"outputfile"`
	Sync       bool   `yaml:"sync"`
}

// Validate checks the path is set.
func (c *Config) Validate() error {
	if c.OutputFile == "" {
		return output.Missing("outputfile")
	}
	return nil
}

// Spec registers the output.
func Spec() output.Spec { return output.Spec{Key: "file", Enable: "outputfile", New: New} }

// File is the output. Safe for concurrent use.
type File struct {
	cfg Config
	mu  sync.Mutex
	f   *os.File
}

// New builds the output; it does not open the file yet.
func New(cfg *output.Config, _ output.Env) (output.Output, error) {
	var c Config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	return &File{cfg: c}, nil
}

// Name returns "file".
func (f *File) Name() string { return "file" }

// Send appends one JSON line. A failed write closes the file so the next
// attempt opens it again (the file may have been rotated or its disk
// remounted).
func (f *File) Send(_ context.Context, d output.Delivery) error {
	line, err := d.Alert.MarshalJSON()
	if err != nil {
		return output.Permanent(fmt.Errorf("file: encode alert %s: %w", d.ID, err))
	}
	line = append(line, '\n')
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		fh, err := os.OpenFile(f.cfg.OutputFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return fmt.Errorf("file: %w", err)
		}
		f.f = fh
	}
	if _, err := f.f.Write(line); err != nil {
		f.f.Close()
		f.f = nil
		return fmt.Errorf("file %s: %w", f.cfg.OutputFile, err)
	}
	if f.cfg.Sync {
		if err := f.f.Sync(); err != nil {
			return fmt.Errorf("file %s: sync: %w", f.cfg.OutputFile, err)
		}
	}
	return nil
}

// Close closes the file.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		return nil
	}
	err := f.f.Close()
	f.f = nil
	return err
}
