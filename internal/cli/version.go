package cli

import (
	"runtime/debug"
)

// version is set by release builds:
// -ldflags "-X github.com/diagnose-sh/diagnose/internal/cli.version=v1.2.3".
var version string

// versionString is the version diagnose reports: the linked-in one, else
// what the Go toolchain recorded (the module version for go install
// ...@v1.2.3, the commit for a build in a checkout), and the Go version.
func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	return buildVersion(bi)
}

func buildVersion(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if v == "(devel)" && rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " " + rev
		if dirty {
			v += "-dirty"
		}
	}
	return v + " " + bi.GoVersion
}
