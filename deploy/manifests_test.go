// Package deploy checks the manifests diagnose ships: they decode strictly
// into the Kubernetes API types (an unknown or misplaced field fails), and
// they keep the promises deploy/README.md makes. A module of its own, so
// that the Kubernetes types stay out of the diagnose binary.
package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// documents splits a manifest file and decodes each document strictly by
// its kind.
func documents(t *testing.T, file string) []any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("kubernetes", file))
	if err != nil {
		t.Fatal(err)
	}
	var out []any
	for i, doc := range strings.Split(string(b), "\n---\n") {
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("%s document %d: %v", file, i+1, err)
		}
		var obj any
		switch meta.Kind {
		case "Namespace":
			obj = &corev1.Namespace{}
		case "DaemonSet":
			obj = &appsv1.DaemonSet{}
		case "Job":
			obj = &batchv1.Job{}
		default:
			t.Fatalf("%s document %d: kind %q is not checked here", file, i+1, meta.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s document %d (%s): %v", file, i+1, meta.Kind, err)
		}
		out = append(out, obj)
	}
	return out
}

// readOnlyNodeAccess checks a pod that reads a node: hostPID, the least
// capabilities, a read-only root filesystem and read-only host mounts
// under /host, read with --root /host, and resource limits.
func readOnlyNodeAccess(t *testing.T, what string, spec corev1.PodSpec) {
	t.Helper()
	if !spec.HostPID || spec.HostNetwork || spec.HostIPC {
		t.Errorf("%s: hostPID %v, hostNetwork %v, hostIPC %v: want the node's processes only", what, spec.HostPID, spec.HostNetwork, spec.HostIPC)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: diagnose talks to no API server: automountServiceAccountToken must be false", what)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: %d containers", what, len(spec.Containers))
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.Privileged == nil || *sc.Privileged || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil {
		t.Fatalf("%s: security context %+v", what, sc)
	}
	if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("%s: drops %v, want ALL", what, sc.Capabilities.Drop)
	}
	for _, cap := range sc.Capabilities.Add {
		if !slices.Contains([]corev1.Capability{"SYS_PTRACE", "DAC_READ_SEARCH", "SYSLOG"}, cap) {
			t.Errorf("%s: adds %s: only reading capabilities", what, cap)
		}
	}
	if c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: limits %v", what, c.Resources.Limits)
	}
	if i := slices.Index(c.Args, "--root"); i < 0 || i+1 >= len(c.Args) || c.Args[i+1] != "/host" {
		t.Errorf("%s: args %v: diagnose must read the node under --root /host", what, c.Args)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		switch {
		case !ok:
			t.Errorf("%s: mount %s has no volume", what, m.Name)
		case !m.ReadOnly:
			t.Errorf("%s: %s is mounted read-write: diagnose only reads", what, m.MountPath)
		case v.HostPath == nil || "/host"+v.HostPath.Path != m.MountPath:
			t.Errorf("%s: %s is not the node's %s under /host", what, m.MountPath, m.Name)
		}
	}
	for _, need := range []string{"/host/proc", "/host/sys", "/host/var/log/pods", "/host/var/log/containers"} {
		if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == need }) {
			t.Errorf("%s: %s is not mounted", what, need)
		}
	}
}

func TestDaemonSet(t *testing.T) {
	docs := documents(t, "daemonset.yaml")
	var ds *appsv1.DaemonSet
	for _, d := range docs {
		if x, ok := d.(*appsv1.DaemonSet); ok {
			ds = x
		}
	}
	if ds == nil {
		t.Fatal("no DaemonSet")
	}
	spec := ds.Spec.Template.Spec
	readOnlyNodeAccess(t, "daemonset", spec)
	c := spec.Containers[0]
	if c.Args[0] != "serve" || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("args %v, readiness %+v: serve, ready on /healthz", c.Args, c.ReadinessProbe)
	}
	for i, a := range c.Args {
		if a == "--playbook" {
			if _, err := os.Stat(filepath.Join("..", "playbooks", c.Args[i+1]+".yaml")); err != nil {
				t.Errorf("--playbook %s: not a shipped playbook", c.Args[i+1])
			}
		}
	}
	if ds.Spec.Selector == nil || ds.Spec.Template.Labels["app.kubernetes.io/name"] != ds.Spec.Selector.MatchLabels["app.kubernetes.io/name"] {
		t.Errorf("the selector does not select the template")
	}
}

func TestOOMContainerJob(t *testing.T) {
	docs := documents(t, "job-oom-container.yaml")
	job, ok := docs[0].(*batchv1.Job)
	if !ok || len(docs) != 1 {
		t.Fatalf("documents %T", docs)
	}
	spec := job.Spec.Template.Spec
	readOnlyNodeAccess(t, "job", spec)
	if spec.RestartPolicy != corev1.RestartPolicyNever || spec.NodeName == "" {
		t.Errorf("restart %s, node %q: a one-shot on the pod's node", spec.RestartPolicy, spec.NodeName)
	}
	args := spec.Containers[0].Args
	if args[0] != "oom-container" || !slices.Contains(args, "--pod") || !slices.Contains(args, "--namespace") {
		t.Errorf("args %v: oom-container --pod POD --namespace NS", args)
	}
}

func TestDockerfileIsStatic(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, "CGO_ENABLED=0") || !strings.Contains(s, "FROM scratch") {
		t.Errorf("the image is a static binary in an empty image:\n%s", s)
	}
}
