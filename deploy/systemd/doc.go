// Package systemd holds racelab's systemd unit (racelab.service beside
// this file; see the README's "Hosting on a server"). It has no code. Its
// test, behind the vmtest build tag so that `go test ./...` never boots a
// machine, is run by scripts/vm-test: it boots a Debian 12 VM (cgroup v2,
// systemd as init), installs racelab there the README's way, and checks
// the service from outside.
package systemd
