package defaultrules

import (
	"bytes"
	"testing"
)

// The shipped file must stay the upstream one with its licence header, so
// a refresh that drops the header or truncates the file fails here.
func TestStableIsUpstream(t *testing.T) {
	data := Stable()
	if !bytes.HasPrefix(data, []byte("# SPDX-License-Identifier: Apache-2.0\n")) {
		t.Fatalf("%s does not start with the Apache-2.0 SPDX header", Name)
	}
	for _, rule := range []string{
		"- rule: Read sensitive file untrusted\n",
		"- rule: Search Private Keys or Passwords\n",
		"- rule: Create Symlink Over Sensitive Files\n",
		"- rule: Execution from /dev/shm\n",
	} {
		if !bytes.Contains(data, []byte(rule)) {
			t.Errorf("%s lacks %q", Name, rule)
		}
	}
}
