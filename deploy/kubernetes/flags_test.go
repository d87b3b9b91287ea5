package kubernetes_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// flagDoc is one flag as `racelab <command> -h` documents it.
type flagDoc struct {
	env    string // its environment variable
	def    string // its default, "" when -h names none
	isBool bool   // it takes no value
}

var (
	// "  -max-runs int" or "  -trust-proxy" (see printDefaults in env.go).
	flagLine = regexp.MustCompile(`^  -([a-z0-9][a-z0-9-]*)(?: (\S+))?$`)
	// "    \t... (env RACELAB_MAX_RUNS; default 8)"
	envLine = regexp.MustCompile(`\(env (RACELAB_[A-Z0-9_]+)(?:; default (.*))?\)$`)
)

// buildRacelab builds the racelab binary that the manifests run.
func buildRacelab(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "racelab")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/racelab/racelab")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build racelab: %v\n%s", err, out)
	}
	return bin
}

// helpFlags runs `racelab <command> -h` and returns the flags it lists.
func helpFlags(bin, command string) (map[string]flagDoc, error) {
	out, err := exec.Command(bin, command, "-h").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("racelab %s -h: %v\n%s", command, err, out)
	}
	flags := map[string]flagDoc{}
	var cur string
	for line := range strings.Lines(string(out)) {
		line = strings.TrimRight(line, "\n")
		if f := flagLine.FindStringSubmatch(line); f != nil {
			cur = f[1]
			flags[cur] = flagDoc{isBool: f[2] == ""}
			continue
		}
		if e := envLine.FindStringSubmatch(line); e != nil && cur != "" {
			d := flags[cur]
			d.env, d.def = e[1], e[2]
			flags[cur] = d
			cur = ""
		}
	}
	if len(flags) == 0 {
		return nil, fmt.Errorf("racelab %s -h lists no flags:\n%s", command, out)
	}
	for name, d := range flags {
		if d.env == "" {
			return nil, fmt.Errorf("racelab %s -h names no environment variable for -%s", command, name)
		}
	}
	return flags, nil
}

// parseArgs checks args (after the command) against flags the way Go's
// flag package reads them, and returns the value each flag is given.
func parseArgs(args []string, flags map[string]flagDoc) (map[string][]string, []error) {
	set, errs := map[string][]string{}, []error(nil)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			errs = append(errs, fmt.Errorf("argument %q: racelab takes only flags here", a))
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		d, ok := flags[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("flag --%s does not exist", name))
			continue
		case !hasValue && d.isBool:
			value = "true"
		case !hasValue && i+1 == len(args):
			errs = append(errs, fmt.Errorf("flag --%s has no value", name))
		case !hasValue:
			i++
			value = args[i]
		}
		if _, dup := set[name]; dup && name != "runner" && name != "host" {
			errs = append(errs, fmt.Errorf("flag --%s given twice; the last one wins", name))
		}
		set[name] = append(set[name], value)
	}
	return set, errs
}

// settings are the values a container's racelab runs with: its flags on
// the command line, else their RACELAB_* variables, else the defaults.
type settings struct {
	args  map[string][]string // every value of each flag, in order
	env   map[string]string
	flags map[string]flagDoc
}

// get returns the value flag name has in the container.
func (s settings) get(name string) string {
	if v := s.args[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	if v, ok := s.env[name]; ok {
		return v
	}
	return s.flags[name].def
}

// TestFlags holds every --flag and RACELAB_* variable of the manifests to
// the racelab binary of this checkout: a flag renamed or removed fails
// here, not in a crash-looping pod.
func TestFlags(t *testing.T) {
	m := load(t)
	bin := buildRacelab(t)
	for _, tc := range []struct {
		deployment, command string
		check               func(*testing.T, *manifests, *corev1.Container, settings)
	}{
		{webName, "serve", checkWeb},
		{runName, "runner", checkRunner},
	} {
		t.Run(tc.command, func(t *testing.T) {
			c := m.container(t, tc.deployment)
			checkCommand(t, c)
			if len(c.Args) == 0 || c.Args[0] != tc.command {
				t.Fatalf("%s: args %q, want racelab %s ...", tc.deployment, c.Args, tc.command)
			}
			flags, err := helpFlags(bin, tc.command)
			if err != nil {
				t.Fatal(err)
			}
			s := settings{flags: flags, env: map[string]string{}}
			var errs []error
			s.args, errs = parseArgs(c.Args[1:], flags)
			for _, err := range errs {
				t.Errorf("%s: racelab %s: %v", tc.deployment, tc.command, err)
			}
			byEnv := map[string]string{}
			for name, d := range flags {
				byEnv[d.env] = name
			}
			for _, e := range c.Env {
				if !strings.HasPrefix(e.Name, "RACELAB_") {
					continue
				}
				name, ok := byEnv[e.Name]
				switch {
				case !ok:
					t.Errorf("%s: %s names no flag of racelab %s", tc.deployment, e.Name, tc.command)
				case len(s.args[name]) > 0:
					t.Errorf("%s: %s is set and so is --%s, which wins over it", tc.deployment, e.Name, name)
				default:
					s.env[name] = e.Value
				}
			}
			checkGrace(t, m, tc.deployment, s)
			tc.check(t, m, c, s)
		})
	}
}

// racelabBin is where the Dockerfile puts racelab.
const racelabBin = "/usr/local/bin/racelab"

// dockerfile returns the top-level Dockerfile, which builds the image the
// manifests run.
func dockerfile(t *testing.T) string {
	t.Helper()
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatalf("the image's Dockerfile: %v", err)
	}
	return string(df)
}

// checkCommand checks that the container runs racelab with its args under
// the image's entry point (its init): racelab itself, or a shell that
// ends by exec'ing racelab with them.
func checkCommand(t *testing.T, c *corev1.Container) {
	t.Helper()
	df := dockerfile(t)
	if !regexp.MustCompile(`(?m)^COPY .* ` + regexp.QuoteMeta(racelabBin) + `$`).MatchString(df) {
		t.Errorf("the Dockerfile does not put racelab at %s", racelabBin)
	}
	var entry []string
	if e := regexp.MustCompile(`(?m)^ENTRYPOINT (\[.*\])$`).FindStringSubmatch(df); e != nil {
		if err := json.Unmarshal([]byte(e[1]), &entry); err != nil {
			t.Fatalf("the Dockerfile's ENTRYPOINT %s: %v", e[1], err)
		}
	}
	cmd := c.Command
	if len(cmd) < len(entry) || !slices.Equal(cmd[:len(entry)], entry) {
		t.Errorf("container %s: command %q does not start with the image's ENTRYPOINT %q", c.Name, cmd, entry)
		return
	}
	switch rest := cmd[len(entry):]; {
	case len(rest) == 1 && rest[0] == racelabBin:
	case len(rest) == 4 && rest[0] == "/bin/sh" && rest[1] == "-c" &&
		strings.HasSuffix(strings.TrimSpace(rest[2]), "exec "+racelabBin+` "$@"`):
	default:
		t.Errorf("container %s: command %q does not run %s with the container's args", c.Name, cmd, racelabBin)
	}
}

// checkListen checks that --addr listens beyond loopback on a port of the
// container.
func checkListen(t *testing.T, c *corev1.Container, s settings) {
	t.Helper()
	host, port, err := net.SplitHostPort(s.get("addr"))
	if err != nil {
		t.Errorf("--addr %q: %v", s.get("addr"), err)
		return
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		t.Errorf("--addr %q: listens on %s only; the kubelet and the Service reach the pod's own address", s.get("addr"), host)
	}
	n, _ := strconv.Atoi(port)
	if _, ok := containerPort(c, intstr.FromInt(n)); !ok {
		t.Errorf("--addr %q: port %s is no port of the container (%v)", s.get("addr"), port, c.Ports)
	}
}

// checkGrace checks that the kubelet waits for racelab's graceful
// shutdown (after the preStop hook) before it kills the pod.
func checkGrace(t *testing.T, m *manifests, name string, s settings) {
	t.Helper()
	grace, err := time.ParseDuration(s.get("shutdown-grace"))
	if err != nil {
		t.Errorf("%s: --shutdown-grace %q: %v", name, s.get("shutdown-grace"), err)
		return
	}
	var preStop time.Duration
	if h := m.container(t, name).Lifecycle; h != nil && h.PreStop != nil && h.PreStop.Sleep != nil {
		preStop = time.Duration(h.PreStop.Sleep.Seconds) * time.Second
	}
	need := preStop + grace + 5*time.Second
	tgps := 30 * time.Second // the API's default
	if p := m.deployments[name].Spec.Template.Spec.TerminationGracePeriodSeconds; p != nil {
		tgps = time.Duration(*p) * time.Second
	}
	if tgps < need {
		t.Errorf("%s: terminationGracePeriodSeconds %v < preStop %v + --shutdown-grace %v + 5s", name, tgps, preStop, grace)
	}
}

// checkWeb checks that the web tier listens where its Service sends,
// answers to a public name, sends every run to the runner Service, and
// admits about as many runs as the runners can hold.
func checkWeb(t *testing.T, m *manifests, c *corev1.Container, s settings) {
	checkListen(t, c, s)
	checkAdmission(t, m, s)
	if len(s.args["host"]) == 0 && s.env["host"] == "" {
		t.Errorf("web: no --host (RACELAB_HOST): browsers that reach it by the Ingress's name would be refused with 421")
	}
	runners := s.args["runner"]
	if v := s.env["runner"]; len(runners) == 0 && v != "" {
		runners = []string{v}
	}
	if len(runners) == 0 {
		t.Fatalf("web: no --runner: it would start containers itself, and it has no privilege to")
	}
	for _, r := range runners {
		checkRunnerURL(t, m, r)
	}
}

// checkRunnerURL checks that a --runner URL names the runner Service and
// one of its ports.
func checkRunnerURL(t *testing.T, m *manifests, runner string) {
	u, err := url.Parse(runner)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		t.Fatalf("web: --runner %q: want http://SERVICE:PORT (%v)", runner, err)
	}
	host := strings.TrimSuffix(strings.TrimSuffix(u.Hostname(), ".svc.cluster.local"), ".svc")
	host = strings.TrimSuffix(host, "."+namespace)
	svc := m.services[host]
	if svc == nil || !subset(svc.Spec.Selector, m.podLabels(t, runName)) {
		t.Fatalf("web: --runner %q: %s is not a Service of the runner pods", runner, u.Hostname())
	}
	port, _ := strconv.Atoi(u.Port())
	var found bool
	for _, sp := range svc.Spec.Ports {
		found = found || int(sp.Port) == port
	}
	if !found {
		t.Errorf("web: --runner %q: Service %s has no port %d", runner, host, port)
	}
}

// checkRunner checks that the runner listens on its container's port,
// finds the cache the image bakes in, and fits its slots in its pod.
func checkRunner(t *testing.T, m *manifests, c *corev1.Container, s settings) {
	checkListen(t, c, s)
	parallel, _ := strconv.Atoi(s.get("parallel"))
	if parallel <= 0 {
		t.Fatalf("runner: --parallel %q; 0 means one per core of the node, not of the pod", s.get("parallel"))
	}
	mem, err1 := strconv.ParseInt(s.get("memory"), 10, 64)
	raceMem, err2 := strconv.ParseInt(s.get("race-memory"), 10, 64)
	cpus, err3 := strconv.ParseFloat(s.get("cpus"), 64)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("runner: --memory %q, --race-memory %q, --cpus %q: %v %v %v", s.get("memory"), s.get("race-memory"), s.get("cpus"), err1, err2, err3)
	}
	// Every slot may hold a race-mode container at its limit, and racelab
	// itself needs some room too.
	need := int64(parallel)*max(mem, raceMem) + 256<<20
	if lim := c.Resources.Limits[corev1.ResourceMemory]; lim.Value() < need {
		t.Errorf("runner: memory limit %s < --parallel %d x %d bytes + 256Mi = %s", lim.String(), parallel, max(mem, raceMem), resource.NewQuantity(need, resource.BinarySI))
	}
	if req := c.Resources.Requests[corev1.ResourceCPU]; req.AsApproximateFloat64() < float64(parallel)*cpus {
		t.Errorf("runner: CPU request %s < --parallel %d x --cpus %g", req.String(), parallel, cpus)
	}
	cache, state := filepath.Clean(s.get("cache-dir")), filepath.Clean(s.get("state-dir"))
	if strings.HasPrefix(cache+"/", state+"/") {
		t.Errorf("runner: --cache-dir %s is inside --state-dir %s: the emptyDir mounted there hides the image's cache", cache, state)
	}
	baked := "nowhere (no RACELAB_CACHE_DIR=)"
	if b := regexp.MustCompile(`RACELAB_CACHE_DIR=(\S+)`).FindStringSubmatch(dockerfile(t)); b != nil {
		baked = b[1]
	}
	if baked != cache {
		t.Errorf("runner: --cache-dir %s, but the Dockerfile bakes the warm cache into %s", cache, baked)
	}
}

// checkAdmission checks that the web replicas together admit at least
// what the fewest runners can run (or runners would idle while learners
// wait in line) and at most what the most runners can.
func checkAdmission(t *testing.T, m *manifests, s settings) {
	t.Helper()
	maxRuns, _ := strconv.Atoi(s.get("max-runs"))
	if maxRuns <= 0 {
		t.Errorf("web: --max-runs %q; set it: with --runner it defaults to 4 per URL, and the one URL is a pool", s.get("max-runs"))
		return
	}
	web, hpa := m.deployments[webName], m.hpas[runName]
	pv, _ := argValue(m.container(t, runName).Args, "parallel")
	parallel, _ := strconv.Atoi(pv)
	if web == nil || web.Spec.Replicas == nil || hpa == nil || hpa.Spec.MinReplicas == nil || parallel <= 0 {
		t.Errorf("web: cannot size admission: web replicas, the HPA's bounds or the runner's --parallel %q missing", pv)
		return
	}
	admitted := int(*web.Spec.Replicas) * maxRuns
	low, high := int(*hpa.Spec.MinReplicas)*parallel, int(hpa.Spec.MaxReplicas)*parallel
	if admitted < low || admitted > high {
		t.Errorf("web: %d replicas x --max-runs %d = %d runs at once; the runners hold %d (min) to %d (max)",
			*web.Spec.Replicas, maxRuns, admitted, low, high)
	}
}
