package cli

import (
	"runtime/debug"
	"testing"
)

// The version says what was built: a release's module version, a
// checkout's commit (and whether it had local changes), never a bare "dev".
func TestBuildVersion(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"go install @version", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.4.0"}}, "v0.4.0 go1.26.8"},
		{"checkout", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "24b7245a1b2c3d4e5f60718293a4b5c6d7e8f901"}, {Key: "vcs.modified", Value: "false"}}},
			"(devel) 24b7245a1b2c go1.26.8"},
		{"dirty checkout", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "24b7245"}, {Key: "vcs.modified", Value: "true"}}},
			"(devel) 24b7245-dirty go1.26.8"},
		{"no VCS (-buildvcs=false, a test binary)", debug.BuildInfo{GoVersion: "go1.26.8"}, "(devel) go1.26.8"},
		{"a pseudo-version is a module version", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261203140140-24b7245a1b2c"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "ffff"}}}, "v0.0.0-20261203140140-24b7245a1b2c go1.26.8"},
	} {
		if got := buildVersion(&tc.bi); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
