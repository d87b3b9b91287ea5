package kubernetes_test

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// containerPort resolves a Service's targetPort or a probe's port, by
// name or number, to a port of container c.
func containerPort(c *corev1.Container, p intstr.IntOrString) (corev1.ContainerPort, bool) {
	for _, cp := range c.Ports {
		if p.Type == intstr.String && p.StrVal == cp.Name ||
			p.Type == intstr.Int && p.IntVal == cp.ContainerPort {
			return cp, true
		}
	}
	return corev1.ContainerPort{}, false
}

// TestServices checks that each Service selects the pods of its own
// Deployment (and no other's) and sends its ports to ports they have.
func TestServices(t *testing.T) {
	m := load(t)
	for _, name := range []string{webName, runName} {
		svc := m.services[name]
		if svc == nil {
			t.Errorf("no Service %s", name)
			continue
		}
		for dname := range m.deployments {
			got := subset(svc.Spec.Selector, m.podLabels(t, dname))
			if want := dname == name; got != want {
				t.Errorf("Service %s selects the pods of Deployment %s: %v, want %v (selector %v)", name, dname, got, want, svc.Spec.Selector)
			}
		}
		c := m.container(t, name)
		if len(svc.Spec.Ports) == 0 {
			t.Errorf("Service %s has no ports", name)
		}
		for _, sp := range svc.Spec.Ports {
			cp, ok := containerPort(c, sp.TargetPort)
			switch {
			case !ok:
				t.Errorf("Service %s port %d: targetPort %s is no port of container %s (%v)", name, sp.Port, sp.TargetPort.String(), c.Name, c.Ports)
			case protocol(cp.Protocol) != protocol(sp.Protocol):
				t.Errorf("Service %s port %d: protocol %s, container port %s", name, sp.Port, sp.Protocol, cp.Protocol)
			}
		}
	}
}

// TestRunnerServiceHeadless: racelab serve balances over the addresses
// the runner Service's name resolves to, so it must be headless, and a
// pod must listen on the Service's port itself (a headless Service maps
// no ports).
func TestRunnerServiceHeadless(t *testing.T) {
	m := load(t)
	svc := m.services[runName]
	if svc == nil {
		t.Fatalf("no Service %s", runName)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("Service %s: clusterIP %q, want None (headless: one address per runner pod)", runName, svc.Spec.ClusterIP)
	}
	c := m.container(t, runName)
	for _, sp := range svc.Spec.Ports {
		if cp, ok := containerPort(c, sp.TargetPort); ok && cp.ContainerPort != sp.Port {
			t.Errorf("Service %s port %d: the runner listens on %d; a headless Service does not map ports", runName, sp.Port, cp.ContainerPort)
		}
	}
}

// protocol is p, TCP if unset (the API's default).
func protocol(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// TestProbes checks that both tiers have a liveness probe on /healthz and
// a readiness probe on /readyz, each on a port the container has.
func TestProbes(t *testing.T) {
	m := load(t)
	for _, name := range []string{webName, runName} {
		c := m.container(t, name)
		for _, p := range []struct {
			kind  string
			probe *corev1.Probe
			path  string
		}{
			{"livenessProbe", c.LivenessProbe, "/healthz"},
			{"readinessProbe", c.ReadinessProbe, "/readyz"},
		} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("%s: no HTTP %s", name, p.kind)
				continue
			}
			get := p.probe.HTTPGet
			if get.Path != p.path {
				t.Errorf("%s: %s path = %q, want %q", name, p.kind, get.Path, p.path)
			}
			if _, ok := containerPort(c, get.Port); !ok {
				t.Errorf("%s: %s port %s is no port of the container (%v)", name, p.kind, get.Port.String(), c.Ports)
			}
		}
	}
}

// TestAutoscaler checks that the HPA scales the runner Deployment on CPU,
// and that nothing else fights it over the replica count.
func TestAutoscaler(t *testing.T) {
	m := load(t)
	hpa := m.hpas[runName]
	if hpa == nil {
		t.Fatalf("no HorizontalPodAutoscaler %s", runName)
	}
	ref := hpa.Spec.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != runName {
		t.Errorf("HPA scaleTargetRef = %s %s %s, want apps/v1 Deployment %s", ref.APIVersion, ref.Kind, ref.Name, runName)
	}
	if d := m.deployments[runName]; d != nil && d.Spec.Replicas != nil {
		t.Errorf("Deployment %s sets replicas: %d; the HPA owns the count, and each kubectl apply would reset it", runName, *d.Spec.Replicas)
	}
	if min := hpa.Spec.MinReplicas; min == nil || *min < 2 || *min > hpa.Spec.MaxReplicas {
		t.Errorf("HPA minReplicas = %v, maxReplicas = %d; want 2 <= min <= max, so that one runner's death leaves another", min, hpa.Spec.MaxReplicas)
	}
	var onCPU bool
	for _, mt := range hpa.Spec.Metrics {
		if mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU &&
			mt.Resource.Target.AverageUtilization != nil && *mt.Resource.Target.AverageUtilization > 0 {
			onCPU = true
		}
	}
	if !onCPU {
		t.Errorf("HPA %s has no CPU utilization target", runName)
	}
	// Utilization is measured against the request: without one the HPA
	// has nothing to divide by.
	if cpu := m.container(t, runName).Resources.Requests[corev1.ResourceCPU]; cpu.IsZero() {
		t.Errorf("runner container has no CPU request; the HPA's utilization needs one")
	}
}

// TestNetworkPolicy checks that the runners, whose API has no
// authentication, accept connections from the web pods only, on the
// runner's port only, and open none.
func TestNetworkPolicy(t *testing.T) {
	m := load(t)
	web, runner := m.podLabels(t, webName), m.podLabels(t, runName)
	np := m.policies[runName]
	if np == nil {
		t.Fatalf("no NetworkPolicy %s", runName)
	}
	spec := np.Spec
	if !selects(&spec.PodSelector, runner) || selects(&spec.PodSelector, web) {
		t.Errorf("NetworkPolicy podSelector %v: want the runner pods %v and not the web pods %v", spec.PodSelector.MatchLabels, runner, web)
	}
	for _, pt := range []string{"Ingress", "Egress"} {
		if !slices.ContainsFunc(spec.PolicyTypes, func(p networkingv1.PolicyType) bool { return string(p) == pt }) {
			t.Errorf("NetworkPolicy policyTypes %v lacks %s", spec.PolicyTypes, pt)
		}
	}
	if len(spec.Egress) != 0 {
		t.Errorf("NetworkPolicy allows egress %v; a runner needs none", spec.Egress)
	}
	if len(spec.Ingress) == 0 {
		t.Errorf("NetworkPolicy allows no ingress; the web tier could not reach the runners")
	}
	c := m.container(t, runName)
	for i, rule := range spec.Ingress {
		if len(rule.From) == 0 {
			t.Errorf("ingress rule %d has no from: it admits everyone", i)
		}
		for _, peer := range rule.From {
			// A namespaceSelector or an ipBlock would admit more than the
			// web pods of this namespace.
			if peer.NamespaceSelector != nil || peer.IPBlock != nil || peer.PodSelector == nil ||
				!selects(peer.PodSelector, web) || selects(peer.PodSelector, runner) {
				t.Errorf("ingress rule %d admits %+v, want only the web pods %v", i, peer, web)
			}
		}
		if len(rule.Ports) == 0 {
			t.Errorf("ingress rule %d has no ports: it opens every port", i)
		}
		for _, p := range rule.Ports {
			if p.Port == nil {
				t.Errorf("ingress rule %d opens every port", i)
			} else if _, ok := containerPort(c, *p.Port); !ok {
				t.Errorf("ingress rule %d opens port %s, which the runner does not listen on (%v)", i, p.Port.String(), c.Ports)
			}
		}
	}
}
