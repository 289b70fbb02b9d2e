package cgroup

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// The IDs and UIDs recorded in the ctr-* fixtures.
const (
	idDockerV1   = "40c901ac6cf46bac112e3b754d5d42ac09838ebe0a8d97d3464a97e15934aa21"
	idDockerV2a  = "a1b2c3d4e5f6cdfbd6c2015765847183e66c2c2613ff395db840950fa80939c8"
	idDockerV2b  = "a1b2c3d4e5f6545fe9def59f88c9b656c200edfa6d68e2dfd022a810085b3548"
	idDockerLink = "64b65492f8ef33efedd30bfee570c4a367fc4b51a3bff0f613808d30579b8abf" // a symlink named docker-<id>.scope
	idDockerOut  = "cfa5cd0546e99aefdd871390bbcc0cebf961d5e8e6f669e2073d8bea1ce1a7bc" // behind a symlink out of the tree

	uidWeb        = "2567a5ec-9705-4b7a-a2c9-84033e06189d"
	uidCoreDNS    = "cfab054f-df7a-4d2f-a313-00dcdb87caf7"
	idApp         = "f0d64011ff21798ac98339dab250c8dc7bd8c3e3f91e40d5f4470a72a3b764b1"
	idAppOld      = "e8fea3e66ef5dc7cab916feb4d1163732d7f573e4ab99a0fe167f71e4a1fd5f0" // before the restart: log link, no cgroup
	idSidecar     = "091097bd28335b4c83638bd17d2cb0c2d81fffa3d2d8e1f94ebbf47d1cb196bf"
	idPause       = "55c3fe7ab0c42fde3403907d77ed4497f114b4434f86d3c8c32354c343ca29fe"
	idCoreDNS     = "3577f6a76855d90ab04f20fe9e5f9502f342be5bf655977e6717ce3cae65fc13"
	idCoreDNSPaus = "c45c0757d734e874a51401845750491ff0e2947e9f14d7c3b553f0aefe3607e4"

	uidCart       = "54013ba6-9c19-4820-a568-01f1ef5aad54"
	uidCheckout   = "177627f9-1af6-48a9-a03e-993f1a91917f"
	idCart        = "1c42ddc0285b9c25135be3bf345e6a041271b784b22a6f6cab6588dab93c5980"
	idCartPause   = "eb54b1106849a59516262087093001d9c65493e95ef1c9ad14749190f393b7d6"
	idCheckout    = "c7761e58969f7edd498186641b2021e8477e1bcd230de4cf3435242da4a40d14"
	idCheckoutPau = "9d07b7318de1eaaec6ff78b0bdea578cab3cf06121fc1eafb8f5b3c0f23100e9"

	uidNodeExp = "39dff623-55eb-4abd-a46c-9ef4132e3cc8"
	idNodeExp  = "2303824a4e3dc61fe3195d1a6e978029d4774876cc9aba9d2c60ef85eb96a845"
	uidAPI     = "8a5da52e-d126-447d-a59e-70c05721a8aa"
	idAPI      = "b495dd2c99ff39b1eeca5565edf0281990ea9c7d80c082c785989225ecaf6ce3"

	idPodmanRootful  = "4675a9ec2d20c5f97577a55c245da887778bcdf5e64fdb01cfa074c86f6754a5"
	idPodmanRootless = "56dfa3bc944415a972b0fe05883435f6f061150cc65600d923a24fd565932362"
	idPodmanV1       = "7610ee7b6c7446cf1ef0a7374a61bf6d6449d8ceec518b0c7f4b4463044a3074"
	idNerdctlSystemd = "bb57c342f782394195855ff6ad4700d02df1d7d07a239ec80575daf9dd81cbf7"
	idNerdctlCgfs    = "c1ea79ffbfbd43697f37a00da8a25db7bb1d241a52166eac46df5dd1d6a5a73c"
)

func ctrHost(t *testing.T, fixture string) probe.Host {
	t.Helper()
	return probe.Host{Root: probetest.Fixture(t, fixture)}
}

// ctrCase is one container a fixture holds: what FindContainer must return,
// the directory Resolve must give for its Cgroup, and its processes.
type ctrCase struct {
	want Container
	dir  string
	pids []int
}

func ctr(id, runtime, cgroup, podUID, mountPoint string, pids ...int) ctrCase {
	return ctrCase{Container{ID: id, Runtime: runtime, Cgroup: cgroup, PodUID: podUID}, path.Join(mountPoint, cgroup), pids}
}

const (
	v1mem = "/sys/fs/cgroup/memory"
	v2    = "/sys/fs/cgroup"
)

// ctrFixtures lists every container in every ctr-* fixture: nothing else
// (a conmon scope, a hostile name, a symlink) may be found.
var ctrFixtures = map[string][]ctrCase{
	"ctr-docker-v1-cgroupfs": {
		ctr(idDockerV1, "docker", "/docker/"+idDockerV1, "", v1mem, 2310, 2344),
	},
	"ctr-docker-v2-systemd": {
		ctr(idDockerV2a, "docker", "/system.slice/docker-"+idDockerV2a+".scope", "", v2, 4101),
		ctr(idDockerV2b, "docker", "/system.slice/docker-"+idDockerV2b+".scope", "", v2, 4202, 4203),
	},
	"ctr-containerd-v2-systemd-k8s": {
		ctr(idApp, "containerd", webPod+"/cri-containerd-"+idApp+".scope", uidWeb, v2, 5120, 5188),
		ctr(idSidecar, "containerd", webPod+"/cri-containerd-"+idSidecar+".scope", uidWeb, v2, 5130),
		ctr(idPause, "containerd", webPod+"/cri-containerd-"+idPause+".scope", uidWeb, v2, 5001),
		ctr(idCoreDNS, "containerd", coreDNSPod+"/cri-containerd-"+idCoreDNS+".scope", uidCoreDNS, v2, 1444),
		ctr(idCoreDNSPaus, "containerd", coreDNSPod+"/cri-containerd-"+idCoreDNSPaus+".scope", uidCoreDNS, v2, 1400),
	},
	"ctr-containerd-v1-cgroupfs-k8s": {
		ctr(idCart, "containerd", "/kubepods/besteffort/pod"+uidCart+"/"+idCart, uidCart, v1mem, 6100),
		ctr(idCartPause, "containerd", "/kubepods/besteffort/pod"+uidCart+"/"+idCartPause, uidCart, v1mem, 6001),
		ctr(idCheckout, "containerd", "/kubepods/pod"+uidCheckout+"/"+idCheckout, uidCheckout, v1mem, 6200, 6201),
		ctr(idCheckoutPau, "containerd", "/kubepods/pod"+uidCheckout+"/"+idCheckoutPau, uidCheckout, v1mem, 6002),
	},
	"ctr-crio-v2-systemd": {
		ctr(idNodeExp, "cri-o", nodeExpPod+"/crio-"+idNodeExp+".scope", uidNodeExp, v2, 7100),
	},
	"ctr-crio-v1-cgroupfs": {
		ctr(idAPI, "cri-o", "/kubepods/burstable/pod"+uidAPI+"/crio-"+idAPI, uidAPI, v1mem, 8100, 8101),
	},
	"ctr-podman-v2-systemd": {
		ctr(idPodmanRootful, "podman", "/machine.slice/libpod-"+idPodmanRootful+".scope", "", v2, 9100),
		ctr(idPodmanRootless, "podman", "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-"+idPodmanRootless+".scope", "", v2, 9300),
	},
	"ctr-podman-v1-cgroupfs": {
		ctr(idPodmanV1, "podman", "/libpod_parent/libpod-"+idPodmanV1, "", v1mem, 9500),
	},
	"ctr-nerdctl-v2": {
		ctr(idNerdctlSystemd, "containerd", "/system.slice/nerdctl-"+idNerdctlSystemd+".scope", "", v2, 9700),
		ctr(idNerdctlCgfs, "containerd", "/default/"+idNerdctlCgfs, "", v2, 9800),
	},
}

const (
	webPod     = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod2567a5ec_9705_4b7a_a2c9_84033e06189d.slice"
	coreDNSPod = "/kubepods.slice/kubepods-podcfab054f_df7a_4d2f_a313_00dcdb87caf7.slice"
	nodeExpPod = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod39dff623_55eb_4abd_a46c_9ef4132e3cc8.slice"
)

func TestFindContainer(t *testing.T) {
	for fixture, cases := range ctrFixtures {
		h := ctrHost(t, fixture)
		var all []Container
		for _, c := range cases {
			all = append(all, c.want)
		}
		for _, c := range cases {
			t.Run(fixture+"/"+c.want.ID[:12], func(t *testing.T) {
				prefixes := []string{c.want.ID, strings.ToUpper(c.want.ID[:16])}
				if uniquePrefix(c.want.ID, all) <= 12 {
					prefixes = append(prefixes, c.want.ID[:12])
				}
				for _, p := range prefixes {
					got, err := FindContainer(h, p)
					if err != nil || got != c.want {
						t.Fatalf("FindContainer(%s) = %+v, %v; want %+v", p, got, err, c.want)
					}
				}
				// The CLI passes Cgroup as the target: it must resolve to
				// the container's own directory and processes.
				loc, err := Resolve(h, probe.Target{Cgroup: c.want.Cgroup})
				if err != nil || loc.MemoryDir != c.dir {
					t.Fatalf("Resolve(%s) = %q, %v; want %q", c.want.Cgroup, loc.MemoryDir, err, c.dir)
				}
				if pids, err := Members(h, loc); err != nil || !slices.Equal(pids, c.pids) {
					t.Errorf("Members = %v, %v; want %v", pids, err, c.pids)
				}
			})
		}
		t.Run(fixture+"/unknown", func(t *testing.T) {
			_, err := FindContainer(h, "0000000000000")
			le := lookupErr(t, err, "container 0000000000000", "no such container")
			want := describe(all)
			slices.Sort(want)
			if !slices.Equal(le.Candidates, want) {
				t.Errorf("candidates %q, want %q", le.Candidates, want)
			}
			if !strings.Contains(le.Hint, "docker ps --no-trunc, crictl ps, podman ps") {
				t.Errorf("hint %q", le.Hint)
			}
		})
	}
}

// uniquePrefix is how many digits tell id apart from the others.
func uniquePrefix(id string, all []Container) int {
	n := 1
	for _, c := range all {
		for c.ID != id && n <= len(id) && strings.HasPrefix(c.ID, id[:n]) {
			n++
		}
	}
	return n
}

func lookupErr(t *testing.T, err error, what, problem string) *LookupError {
	t.Helper()
	var le *LookupError
	if !errors.As(err, &le) {
		t.Fatalf("error %v (%T), want a *LookupError", err, err)
	}
	if le.What != what || le.Problem != problem {
		t.Fatalf("lookup error %q / %q, want %q / %q", le.What, le.Problem, what, problem)
	}
	if msg := le.Error(); !strings.HasPrefix(msg, what+": "+problem) || strings.Contains(msg, "\n") {
		t.Errorf("Error() = %q", msg)
	}
	return le
}

func TestFindContainerAmbiguous(t *testing.T) {
	h := ctrHost(t, "ctr-docker-v2-systemd")
	_, err := FindContainer(h, "A1B2C3D4E5F6")
	le := lookupErr(t, err, "container a1b2c3d4e5f6", "ambiguous prefix")
	want := []string{
		// each with the digits that tell it from the other: what to pass
		"a1b2c3d4e5f65 (docker, /system.slice/docker-" + idDockerV2b + ".scope)",
		"a1b2c3d4e5f6c (docker, /system.slice/docker-" + idDockerV2a + ".scope)",
	}
	if !slices.Equal(le.Candidates, want) {
		t.Errorf("candidates %q, want %q", le.Candidates, want)
	}
	if got, err := FindContainer(h, idDockerV2b[:13]); err != nil || got.ID != idDockerV2b {
		t.Errorf("13 digits: %+v %v", got, err)
	}
}

// A symlink in the cgroup tree, whether named like a container, looping,
// or leading out of the tree, is never followed.
func TestFindContainerSymlinks(t *testing.T) {
	h := ctrHost(t, "ctr-docker-v2-systemd")
	for _, id := range []string{idDockerLink, idDockerOut} {
		_, err := FindContainer(h, id)
		lookupErr(t, err, "container "+id, "no such container")
	}
}

func TestFindContainerBadID(t *testing.T) {
	h := ctrHost(t, "ctr-docker-v2-systemd")
	for _, p := range []string{"", "a1b2c3d4e5f", "a1b2c3d4e5fg", "docker://" + idDockerV2a, idDockerV2a + "0", "a1b2c3d4e5f6 ", "\x1b[31ma1b2c3d4e5f6"} {
		_, err := FindContainer(h, p)
		if !errors.Is(err, ErrBadContainerID) {
			t.Errorf("%q: %v, want ErrBadContainerID", p, err)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\x1b") || !strings.Contains(msg, "a container ID prefix of at least 12 hex digits, as docker ps / crictl ps show it") {
			t.Errorf("%q: message %q", p, msg)
		}
	}
}

func TestFindContainerNoneFound(t *testing.T) {
	root := t.TempDir()
	_, err := FindContainer(probe.Host{Root: root}, idDockerV1)
	le := lookupErr(t, err, "container "+idDockerV1, "no such container")
	if !strings.Contains(le.Hint, "no cgroup hierarchy is mounted") {
		t.Errorf("hint %q", le.Hint)
	}
	// Mounted but empty, and a container too deep to be searched.
	deep := "sys/fs/cgroup/a/b/c/d/e/f/g/h/i/j/docker-" + idDockerV1 + ".scope" // depth 11
	mustWrite(t, root, "proc/self/mountinfo", "28 24 0:26 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n")
	mustWrite(t, root, deep+"/cgroup.procs", "1\n")
	_, err = FindContainer(probe.Host{Root: root}, idDockerV1)
	le = lookupErr(t, err, "container "+idDockerV1, "no such container")
	if len(le.Candidates) != 0 || !strings.Contains(le.Hint, "no containers found under /sys/fs/cgroup") {
		t.Errorf("candidates %q hint %q", le.Candidates, le.Hint)
	}
	if err := os.Rename(filepath.Join(root, deep), filepath.Join(root, path.Dir(path.Dir(deep)), path.Base(deep))); err != nil {
		t.Fatal(err)
	}
	if c, err := FindContainer(probe.Host{Root: root}, idDockerV1); err != nil || c.Cgroup != "/a/b/c/d/e/f/g/h/i/docker-"+idDockerV1+".scope" {
		t.Errorf("depth 10: %+v %v", c, err)
	}
}

func mustWrite(t *testing.T, root, name, data string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFindPod(t *testing.T) {
	k8s := "ctr-containerd-v2-systemd-k8s"
	named := func(c ctrCase, name string) Container { c.want.Name = name; return c.want }
	web := ctrFixtures[k8s]
	shop := ctrFixtures["ctr-containerd-v1-cgroupfs-k8s"]
	tests := []struct {
		fixture string
		q       PodQuery
		want    Container
	}{
		// The stale default_web-7d9f_<old uid> log dir has no cgroup; app's
		// pre-restart ID has a log link but no cgroup.
		{k8s, PodQuery{Name: "web-7d9f", ContainerName: "app"}, named(web[0], "app")},
		{k8s, PodQuery{Namespace: "default", Name: "web-7d9f", ContainerName: "sidecar"}, named(web[1], "sidecar")},
		{k8s, PodQuery{Namespace: "kube-system", Name: "coredns-5d78c9869d-8kq2x"}, named(web[3], "coredns")},
		// cart-0's finished init container has a log dir but no cgroup.
		{"ctr-containerd-v1-cgroupfs-k8s", PodQuery{Namespace: "shop", Name: "cart-0"}, named(shop[0], "cart")},
		{"ctr-containerd-v1-cgroupfs-k8s", PodQuery{Namespace: "shop", Name: "checkout-6b8f5c", ContainerName: "checkout"}, named(shop[2], "checkout")},
		// No /var/log/containers link: the pod's one container cgroup.
		{"ctr-crio-v2-systemd", PodQuery{Namespace: "monitoring", Name: "node-exporter-x7k2p"}, named(ctrFixtures["ctr-crio-v2-systemd"][0], "node-exporter")},
		{"ctr-crio-v1-cgroupfs", PodQuery{Namespace: "prod", Name: "api-5c9d7", ContainerName: "api"}, named(ctrFixtures["ctr-crio-v1-cgroupfs"][0], "api")},
	}
	for _, tt := range tests {
		got, err := FindPod(ctrHost(t, tt.fixture), tt.q)
		if err != nil || got != tt.want {
			t.Errorf("%s %+v: %+v, %v; want %+v", tt.fixture, tt.q, got, err, tt.want)
		}
	}
}

func TestFindPodErrors(t *testing.T) {
	h := ctrHost(t, "ctr-containerd-v2-systemd-k8s")
	podHint := "kubectl get pod web-7d9f -n default -o jsonpath='{.spec.containers[*].name}' and pass --container-name NAME"

	_, err := FindPod(h, PodQuery{Name: "web-7d9f"})
	le := lookupErr(t, err, "pod default/web-7d9f", "pod has several containers")
	if !slices.Equal(le.Candidates, []string{"app", "sidecar"}) || !strings.Contains(le.Hint, podHint) {
		t.Errorf("several: %q %q", le.Candidates, le.Hint)
	}

	_, err = FindPod(h, PodQuery{Name: "web-7d9f", ContainerName: "db"})
	le = lookupErr(t, err, `container "db" of pod default/web-7d9f`, "no such container")
	if !slices.Equal(le.Candidates, []string{"app", "sidecar"}) || !strings.Contains(le.Hint, podHint) {
		t.Errorf("unknown container: %q %q", le.Candidates, le.Hint)
	}

	_, err = FindPod(h, PodQuery{Name: "api"})
	le = lookupErr(t, err, "pod default/api", "no such pod")
	if !slices.Equal(le.Candidates, []string{"default/web-7d9f"}) {
		t.Errorf("no such pod in default: %q", le.Candidates)
	}
	_, err = FindPod(h, PodQuery{Namespace: "shop", Name: "web-7d9f"})
	le = lookupErr(t, err, "pod shop/web-7d9f", "no such pod")
	if !slices.Equal(le.Candidates, []string{"default/web-7d9f", "kube-system/coredns-5d78c9869d-8kq2x"}) {
		t.Errorf("no such pod, no pods in the namespace: %q", le.Candidates)
	}

	_, err = FindPod(ctrHost(t, "ctr-docker-v2-systemd"), PodQuery{Name: "web"})
	le = lookupErr(t, err, "pod default/web", "the node's kubelet log directory /var/log/pods is missing")
	if !strings.Contains(le.Hint, "--root") {
		t.Errorf("hint %q", le.Hint)
	}
}

// FuzzContainerName: the directory-name matchers over any names; a match
// is always a lower-case 64-hex ID the name spells, a pod UID always 32 hex.
func FuzzContainerName(f *testing.F) {
	for _, cases := range ctrFixtures {
		for _, c := range cases {
			f.Add(path.Base(path.Dir(c.want.Cgroup)), path.Base(c.want.Cgroup))
		}
	}
	for _, s := range []string{"docker-" + idDockerV1[:63] + ".scope", "crio-conmon-" + idAPI + ".scope", "libpod-conmon-" + idPodmanV1, "kubepods-besteffort-pod" + strings.ReplaceAll(uidCart, "-", "_") + ".slice", "pod" + uidCart, "pod" + strings.Repeat("f", 32)} {
		f.Add("kubepods", s)
	}
	f.Fuzz(func(t *testing.T, parent, name string) {
		if id, rt, ok := containerDir(parent, name); ok {
			if !isID(id) || id != strings.ToLower(id) || !strings.Contains(strings.ToLower(name), id) || rt == "" || strings.Contains(name, "conmon") {
				t.Errorf("containerDir(%q, %q) = %q %q", parent, name, id, rt)
			}
		}
		if uid, ok := podUID(name); ok {
			if h := strings.ReplaceAll(uid, "-", ""); len(h) != 32 || !isHex(h) || uid != strings.ToLower(uid) {
				t.Errorf("podUID(%q) = %q", name, uid)
			}
		}
	})
}

// A pod or container whose cgroup is gone (stopped, or running elsewhere)
// is reported, not confused with a stale sibling.
func TestFindPodNotRunning(t *testing.T) {
	root := t.TempDir()
	probetest.CopyTree(t, probetest.Fixture(t, "ctr-containerd-v2-systemd-k8s"), root)
	h := probe.Host{Root: root}
	pod := filepath.Join(root, "sys/fs/cgroup", webPod)

	if err := os.RemoveAll(filepath.Join(pod, "cri-containerd-"+idApp+".scope")); err != nil {
		t.Fatal(err)
	}
	_, err := FindPod(h, PodQuery{Name: "web-7d9f", ContainerName: "app"})
	le := lookupErr(t, err, `container "app" of pod default/web-7d9f`, "container has no cgroup under the pod (not running?)")
	if len(le.Candidates) != 2 { // sidecar and pause
		t.Errorf("candidates %q", le.Candidates)
	}
	// With app stopped, sidecar is the one running container.
	if c, err := FindPod(h, PodQuery{Name: "web-7d9f"}); err != nil || c.ID != idSidecar || c.Name != "sidecar" {
		t.Errorf("only sidecar running: %+v %v", c, err)
	}

	if err := os.RemoveAll(pod); err != nil {
		t.Fatal(err)
	}
	_, err = FindPod(h, PodQuery{Name: "web-7d9f"})
	le = lookupErr(t, err, "pod default/web-7d9f", "pod has no cgroup on this node (not running?)")
	if !slices.Equal(le.Candidates, []string{uidWeb, "6f604526-8827-40d1-a8e8-52ecb8eee645"}) {
		t.Errorf("candidates %q", le.Candidates)
	}
}
