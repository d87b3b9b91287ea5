package kubernetes_test

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestPodHygiene checks what both tiers must have: no API token (neither
// tier talks to the API server, and the runners run strangers' code), no
// service-link variables (Kubernetes would set RACELAB_RUNNER_PORT and
// the like, in the very namespace of variables racelab reads its flags
// from), nothing of the node's but what the runner's privilege brings.
func TestPodHygiene(t *testing.T) {
	m := load(t)
	for _, name := range []string{webName, runName} {
		spec := m.deployment(t, name).Spec.Template.Spec
		if b := spec.AutomountServiceAccountToken; b == nil || *b {
			t.Errorf("%s: automountServiceAccountToken = %v, want false", name, ptrString(b))
		}
		if b := spec.EnableServiceLinks; b == nil || *b {
			t.Errorf("%s: enableServiceLinks = %v, want false", name, ptrString(b))
		}
		if spec.HostNetwork || spec.HostPID || spec.HostIPC {
			t.Errorf("%s: shares the node's network, PID or IPC namespace", name)
		}
		for _, v := range spec.Volumes {
			if v.HostPath != nil {
				t.Errorf("%s: hostPath volume %s (%s)", name, v.Name, v.HostPath.Path)
			}
		}
	}
}

// TestWebUnprivileged checks that the web tier, which runs no code of its
// own with --runner, has no privilege at all.
func TestWebUnprivileged(t *testing.T) {
	m := load(t)
	pod := m.deployment(t, webName).Spec.Template.Spec.SecurityContext
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	sc := m.container(t, webName).SecurityContext
	if sc == nil {
		t.Fatalf("web container has no securityContext")
	}
	// A container's setting wins over the pod's.
	nonRoot, uid := pod.RunAsNonRoot, pod.RunAsUser
	if sc.RunAsNonRoot != nil {
		nonRoot = sc.RunAsNonRoot
	}
	if sc.RunAsUser != nil {
		uid = sc.RunAsUser
	}
	if nonRoot == nil || !*nonRoot {
		t.Errorf("web: runAsNonRoot is not true")
	}
	// The image's user is root (the runner needs it): without a uid of its
	// own, runAsNonRoot would stop the pod from starting.
	if uid == nil || *uid == 0 {
		t.Errorf("web: runAsUser = %v, want a non-zero uid", ptrString(uid))
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("web: privileged")
	}
	if b := sc.AllowPrivilegeEscalation; b == nil || *b {
		t.Errorf("web: allowPrivilegeEscalation = %v, want false", ptrString(b))
	}
	if b := sc.ReadOnlyRootFilesystem; b == nil || !*b {
		t.Errorf("web: readOnlyRootFilesystem = %v, want true", ptrString(b))
	}
	if caps := sc.Capabilities; caps == nil || !slices.Contains(caps.Drop, "ALL") || len(caps.Add) > 0 {
		t.Errorf("web: capabilities = %+v, want drop ALL and add none", caps)
	}
	seccomp := pod.SeccompProfile
	if sc.SeccompProfile != nil {
		seccomp = sc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("web: seccompProfile = %+v, want RuntimeDefault", seccomp)
	}
}

// TestRunnerPrivileges checks what the runner needs to start runc
// containers: a privileged container (the API server refuses one that
// also forbids privilege escalation) and a state directory on an emptyDir
// of the node's disk, where racelab can mount overlays.
func TestRunnerPrivileges(t *testing.T) {
	m := load(t)
	c := m.container(t, runName)
	sc := c.SecurityContext
	if sc == nil || sc.Privileged == nil || !*sc.Privileged {
		t.Errorf("runner: not privileged; runc cannot create namespaces, mounts and cgroups without it")
	} else if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		t.Errorf("runner: privileged with allowPrivilegeEscalation false; the API server refuses that")
	}
	if nonRoot := sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot; nonRoot {
		t.Errorf("runner: runAsNonRoot; the runc sandbox needs root")
	}
	state, ok := argValue(c.Args, "state-dir")
	if !ok {
		t.Fatalf("runner: no --state-dir in %q", c.Args)
	}
	i := slices.IndexFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.MountPath == state })
	if i < 0 {
		t.Fatalf("runner: nothing is mounted on its --state-dir %s", state)
	}
	vm := c.VolumeMounts[i]
	if vm.ReadOnly {
		t.Errorf("runner: the state directory %s is mounted read-only", state)
	}
	vols := m.deployment(t, runName).Spec.Template.Spec.Volumes
	j := slices.IndexFunc(vols, func(v corev1.Volume) bool { return v.Name == vm.Name })
	switch {
	case j < 0:
		t.Errorf("runner: no volume %s for the state directory", vm.Name)
	case vols[j].EmptyDir == nil:
		t.Errorf("runner: the state directory is on volume %s, want an emptyDir (runners keep no state)", vm.Name)
	case vols[j].EmptyDir.Medium != corev1.StorageMediumDefault:
		t.Errorf("runner: the state directory's emptyDir has medium %q; racelab's overlays are tested on the node's disk only", vols[j].EmptyDir.Medium)
	}
}

// ptrString formats an optional setting for a message.
func ptrString[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}
