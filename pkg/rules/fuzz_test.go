package rules

import (
	"strings"
	"testing"

	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
)

// FuzzParseCondition checks that the condition parser never panics and
// that an error always carries an offset inside the input.
func FuzzParseCondition(f *testing.F) {
	for _, tc := range condCases {
		f.Add(tc.cond)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseCondition(s)
		if err != nil {
			pe, ok := err.(*parseError)
			if !ok {
				t.Fatalf("error %T is not a parseError: %v", err, err)
			}
			if pe.at < 0 || pe.at > len(s) {
				t.Fatalf("error offset %d outside input of %d bytes", pe.at, len(s))
			}
			return
		}
		if n == nil {
			t.Fatal("no node and no error")
		}
	})
}

// FuzzCompile checks that loading arbitrary YAML never panics and that a
// failure is always an Issues naming the file.
func FuzzCompile(f *testing.F) {
	f.Add(baseRule)
	for _, tc := range errCases {
		f.Add(tc.file)
	}
	for _, tc := range fileCases {
		f.Add(strings.Join(tc.files, "\n"))
	}
	f.Fuzz(func(t *testing.T, src string) {
		_, err := Compile([]File{{Name: "fuzz.yaml", Data: []byte(src)}}, Options{})
		if err == nil {
			return
		}
		is, ok := err.(Issues)
		if !ok || len(is) == 0 {
			t.Fatalf("error %T is not a non-empty Issues: %v", err, err)
		}
		for _, i := range is {
			if i.File != "fuzz.yaml" {
				t.Fatalf("issue without the file name: %v", i)
			}
		}
	})
}

// FuzzOutput checks that compiling and rendering any output never
// panics, that an error carries an offset inside the output, and that a
// compiled output renders every literal byte it did not take as a token.
func FuzzOutput(f *testing.F) {
	for _, tc := range outCases {
		f.Add(tc.output)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cp := &compiler{}
		fm, err := cp.compileFormat(s)
		if err != nil {
			fe, ok := err.(*formatError)
			if !ok {
				t.Fatalf("error %T is not a formatError: %v", err, err)
			}
			if fe.at < 0 || fe.at > len(s) {
				t.Fatalf("error offset %d outside output of %d bytes", fe.at, len(s))
			}
			return
		}
		text, vals := fm.render(&fields.Ctx{Flat: map[string]any{}})
		if !strings.Contains(s, "%") && text != strings.TrimPrefix(s, "*") {
			t.Fatalf("output %q without tokens rendered as %q", s, text)
		}
		if _, ok := vals["evt.time"]; !ok {
			t.Fatal("output_fields without evt.time")
		}
	})
}
