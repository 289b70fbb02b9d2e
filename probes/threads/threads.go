// Package threads is a placeholder until its probe lands.
package threads

import "github.com/diagnose-sh/diagnose/probes/probe"

// Facts is this probe's section of the fact tree.
type Facts struct {
	Placeholder bool `expr:"placeholder" json:"placeholder"`
}

type reader struct{}

// New returns a reader for one run.
func New(probe.Target, probe.Options) probe.Reader { return reader{} }

func (reader) Read(probe.Host) {}

func (reader) Finish() (any, probe.Statuses) {
	return Facts{}, probe.Statuses{"": {State: probe.Unavailable, Reason: "probe not implemented yet"}}
}
