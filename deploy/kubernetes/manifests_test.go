package kubernetes_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The objects the manifests must define, by name.
const (
	namespace = "racelab"
	webName   = "racelab-web"
	runName   = "racelab-runner"
)

// manifests is every object of the directory's YAML files, decoded.
type manifests struct {
	files       []string // the YAML files, kustomization.yaml excepted
	namespaces  map[string]*corev1.Namespace
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	policies    map[string]*networkingv1.NetworkPolicy
	pdbs        map[string]*policyv1.PodDisruptionBudget
}

// docSep separates the documents of a YAML stream.
var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// load reads and strictly decodes every document of every *.yaml file in
// the directory. A document of a kind the manifests are not expected to
// hold, a field the API type does not have, a duplicate field or a
// duplicate object fails the test.
func load(t *testing.T) *manifests {
	t.Helper()
	paths, err := filepath.Glob("*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests here (%v)", err)
	}
	m := &manifests{
		namespaces:  map[string]*corev1.Namespace{},
		deployments: map[string]*appsv1.Deployment{},
		services:    map[string]*corev1.Service{},
		hpas:        map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		policies:    map[string]*networkingv1.NetworkPolicy{},
		pdbs:        map[string]*policyv1.PodDisruptionBudget{},
	}
	for _, p := range paths {
		if p == "kustomization.yaml" {
			continue
		}
		m.files = append(m.files, p)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSep.Split(string(data), -1) {
			if err := m.add([]byte(doc)); err != nil {
				t.Errorf("%s, document %d: %v", p, i+1, err)
			}
		}
	}
	return m
}

// add decodes one document into its API type and files it by name.
func (m *manifests) add(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	if tm.APIVersion == "" && tm.Kind == "" && len(yamlData(doc)) == 0 {
		return nil // only comments
	}
	var err error
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 Namespace":
		err = decode(doc, tm.Kind, m.namespaces)
	case "apps/v1 Deployment":
		err = decode(doc, tm.Kind, m.deployments)
	case "v1 Service":
		err = decode(doc, tm.Kind, m.services)
	case "autoscaling/v2 HorizontalPodAutoscaler":
		err = decode(doc, tm.Kind, m.hpas)
	case "networking.k8s.io/v1 NetworkPolicy":
		err = decode(doc, tm.Kind, m.policies)
	case "policy/v1 PodDisruptionBudget":
		err = decode(doc, tm.Kind, m.pdbs)
	default:
		err = fmt.Errorf("unexpected apiVersion %q, kind %q", tm.APIVersion, tm.Kind)
	}
	return err
}

// decode strictly decodes doc, an object of the given kind, checks its
// metadata and files it in index by name.
func decode[T any, P interface {
	*T
	metav1.Object
}](doc []byte, kind string, index map[string]P) error {
	obj := P(new(T))
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return fmt.Errorf("%s: %v", kind, err)
	}
	name := obj.GetName()
	switch {
	case name == "":
		return fmt.Errorf("%s without a name", kind)
	case index[name] != nil:
		return fmt.Errorf("two objects of kind %s named %s", kind, name)
	case kind != "Namespace" && obj.GetNamespace() != namespace:
		return fmt.Errorf("%s %s: namespace %q, want %q", kind, name, obj.GetNamespace(), namespace)
	case obj.GetLabels()["app.kubernetes.io/name"] != "racelab":
		return fmt.Errorf("%s %s: label app.kubernetes.io/name = %q, want racelab", kind, name, obj.GetLabels()["app.kubernetes.io/name"])
	}
	index[name] = obj
	return nil
}

// yamlData is doc without its comment lines and blank lines.
func yamlData(doc []byte) []byte {
	var out []byte
	for line := range bytes.Lines(doc) {
		if s := bytes.TrimSpace(line); len(s) > 0 && s[0] != '#' {
			out = append(out, line...)
		}
	}
	return out
}

// TestStrict proves that the decoder refuses what the API server would
// not understand, so that the other tests' silence means something.
func TestStrict(t *testing.T) {
	m := &manifests{services: map[string]*corev1.Service{}}
	for _, doc := range []string{
		"apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: racelab, labels: {app.kubernetes.io/name: racelab}}\nspec: {selectr: {a: b}}\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: racelab, labels: {app.kubernetes.io/name: racelab}}\nspec: {type: ClusterIP, type: NodePort}\n",
		"apiVersion: v1\nkind: Servic\nmetadata: {name: x}\n",
	} {
		if err := m.add([]byte(doc)); err == nil {
			t.Errorf("add(%q) = nil, want an error", doc)
		}
	}
}

// TestKinds checks that every object the deployment needs is there, and
// that kustomization.yaml lists every manifest.
func TestKinds(t *testing.T) {
	m := load(t)
	for _, c := range []struct {
		kind, name string
		ok         bool
	}{
		{"Namespace", namespace, m.namespaces[namespace] != nil},
		{"Deployment", webName, m.deployments[webName] != nil},
		{"Deployment", runName, m.deployments[runName] != nil},
		{"Service", webName, m.services[webName] != nil},
		{"Service", runName, m.services[runName] != nil},
		{"HorizontalPodAutoscaler", runName, m.hpas[runName] != nil},
		{"NetworkPolicy", runName, m.policies[runName] != nil},
	} {
		if !c.ok {
			t.Errorf("no %s named %s", c.kind, c.name)
		}
	}

	data, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
		// What `kustomize edit set image` writes.
		Images []struct {
			Name    string `json:"name"`
			NewName string `json:"newName,omitempty"`
			NewTag  string `json:"newTag,omitempty"`
			Digest  string `json:"digest,omitempty"`
		} `json:"images,omitempty"`
	}
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s %s, want kustomize.config.k8s.io/v1beta1 Kustomization", k.APIVersion, k.Kind)
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if want := m.files; !slices.Equal(got, want) {
		t.Errorf("kustomization.yaml resources = %v, want every manifest: %v", got, want)
	}
	if k.Resources[0] != "namespace.yaml" {
		t.Errorf("kustomization.yaml lists %s first, want namespace.yaml (kubectl apply -f in that order must work)", k.Resources[0])
	}
}

// podLabels returns the labels of deployment name's pods, failing the
// test if there is no such deployment or its selector misses its pods.
func (m *manifests) podLabels(t *testing.T, name string) map[string]string {
	t.Helper()
	d := m.deployment(t, name)
	if !selects(d.Spec.Selector, d.Spec.Template.Labels) {
		t.Fatalf("Deployment %s: selector %v does not select its own pods %v", name, d.Spec.Selector, d.Spec.Template.Labels)
	}
	return d.Spec.Template.Labels
}

// selects reports whether sel selects pods labelled l. Only matchLabels
// is understood; a selector with expressions selects nothing here.
func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	if sel == nil || len(sel.MatchExpressions) > 0 || len(sel.MatchLabels) == 0 {
		return false
	}
	return subset(sel.MatchLabels, l)
}

func subset(sel, l map[string]string) bool {
	for k, v := range sel {
		if l[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// deployment returns deployment name, failing the test if there is none.
func (m *manifests) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	d := m.deployments[name]
	if d == nil {
		t.Fatalf("no Deployment %s", name)
	}
	return d
}

// container returns the one container of deployment name.
func (m *manifests) container(t *testing.T, name string) *corev1.Container {
	t.Helper()
	d := m.deployment(t, name)
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("Deployment %s has %d containers, want 1", name, n)
	}
	return &d.Spec.Template.Spec.Containers[0]
}

// TestPDBs checks that each disruption budget covers the pods of a
// deployment and those only.
func TestPDBs(t *testing.T) {
	m := load(t)
	for name, pdb := range m.pdbs {
		var hits []string
		for dname := range m.deployments {
			if selects(pdb.Spec.Selector, m.podLabels(t, dname)) {
				hits = append(hits, dname)
			}
		}
		if len(hits) != 1 {
			t.Errorf("PodDisruptionBudget %s selects the pods of %v, want exactly one Deployment", name, hits)
		}
	}
}

// argValue returns the value of flag --name in args, as --name=value or
// --name value.
func argValue(args []string, name string) (string, bool) {
	for i, a := range args {
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}
