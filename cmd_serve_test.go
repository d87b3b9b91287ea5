package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Bad values of serve's admission and browser flags are refused before
// anything starts, on the command line and from the environment alike:
// one line that names the flag, exit status 2.
func TestServeBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"client runs 0", []string{"serve", "--client-runs", "0"}, nil, "-client-runs and -client-queue must be at least 1"},
		{"client queue negative", []string{"serve"}, map[string]string{"RACELAB_CLIENT_QUEUE": "-1"}, "-client-queue must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tt.want)
			}
		})
	}
}
