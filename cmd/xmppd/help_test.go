package main

import (
	"bytes"
	"strings"
	"testing"
)

// Asking for help succeeds, with every command listed; a wrong flag or
// command fails.
func TestHelp(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		ok      bool
		printed string // where the usage must appear: "stdout" or "stderr"
	}{
		{[]string{"help"}, true, "stdout"},
		{[]string{"-h"}, true, "stderr"},
		{[]string{"-no-such-flag"}, false, "stderr"},
		{[]string{"no-such-command"}, false, "stderr"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(tt.args, strings.NewReader(""), &stdout, &stderr)
		if (err == nil) != tt.ok {
			t.Errorf("xmppd %v: err = %v, want success %v", tt.args, err, tt.ok)
		}
		printed := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}[tt.printed]
		if !strings.Contains(printed, "invite list [HOST]") || !strings.Contains(printed, "user list [HOST]") {
			t.Errorf("xmppd %v printed no usage on %s:\n%s", tt.args, tt.printed, printed)
		}
	}
}
