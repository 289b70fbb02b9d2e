// Package playbooks holds the playbooks shipped inside the diagnose binary.
package playbooks

import "embed"

// FS holds every shipped playbook (*.yaml) at its root.
//
//go:embed *.yaml
var FS embed.FS
