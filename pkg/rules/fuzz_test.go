package rules

import (
	"strings"
	"testing"
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
