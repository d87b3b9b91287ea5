//go:build vmtest

package systemd

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/racelab/racelab/sandbox"
)

// TestHardeningOptions holds racelab.service's comments on the hardening
// it leaves out to what systemd and runc do: each option is added in a
// drop-in, racelab restarted, and a race cell run. Those said to break
// the sandbox must break it; the others work but are left out by choice.
// (What the unit sets is proved by TestHostedUnderSystemd.) It boots a
// guest of its own; scripts/vm-test runs it with VM_TEST=TestHardeningOptions
// (it is not part of CI's run: it takes some four minutes more).
func TestHardeningOptions(t *testing.T) {
	tests := []struct {
		option string
		breaks bool // whether a race cell fails with it
	}{
		{"ProtectHostname=yes", true},
		{"ProtectControlGroups=yes", true},
		{"RestrictNamespaces=yes", true},
		{"SystemCallFilter=@system-service", true},
		{"CapabilityBoundingSet=CAP_NET_BIND_SERVICE", true},
		{"PrivateUsers=yes", true},
		{"LockPersonality=yes", false},
		{"MemoryDenyWriteExecute=yes", false},
	}
	v := bootInstalled(t)
	ctx, cancel := context.WithTimeout(context.Background(), v.scaled(20*time.Minute))
	defer cancel()
	for _, tt := range tests {
		t.Run(tt.option, func(t *testing.T) {
			v.must(t, `mkdir -p /etc/systemd/system/racelab.service.d
printf '[Service]\n%s\n' '`+tt.option+`' >/etc/systemd/system/racelab.service.d/try.conf
systemctl daemon-reload
systemctl restart racelab || true`)
			what := "runs"
			if !readyWithin(ctx, v, v.scaled(time.Minute)) {
				what = "does not start: " + v.must(t, "journalctl -u racelab -n 3 --no-pager -o cat")
			} else if evs, err := post(ctx, v, sandbox.Request{Mode: sandbox.ModeRace, Files: map[string]string{"main.go": racyCounter}}, nil); err != nil || !hasKind(evs, sandbox.KindRace) {
				what = fmt.Sprintf("a race cell fails (%v):%s\n%s", err, describe(evs),
					v.must(t, "journalctl -u racelab -n 4 --no-pager -o cat"))
			}
			t.Logf("%s: %s", tt.option, what)
			if broke := what != "runs"; broke != tt.breaks {
				t.Errorf("%s: %s; want it to break the sandbox: %v", tt.option, what, tt.breaks)
			}
		})
	}
	v.must(t, "rm -r /etc/systemd/system/racelab.service.d && systemctl daemon-reload && systemctl restart racelab")
	waitReady(ctx, t, v)
}

// readyWithin reports whether /readyz answers 200 within d.
func readyWithin(ctx context.Context, v *vm, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "GET", v.url+"/readyz", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return false
}
