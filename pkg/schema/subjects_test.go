package schema

import "testing"

func TestDeadLetterSubject(t *testing.T) {
	for in, want := range map[string]string{
		"evaluator":      "deadletter.evaluator",
		"notifier.slack": "deadletter.notifier.slack",
		"a b.c*d":        "deadletter.a_b.c_d",
	} {
		if got := DeadLetterSubject(in); got != want {
			t.Errorf("DeadLetterSubject(%q) = %q, want %q", in, got, want)
		}
	}
}
