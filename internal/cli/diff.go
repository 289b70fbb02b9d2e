package cli

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/diagnose-sh/diagnose/engine/report"
)

// diffCmd is `diagnose diff BEFORE AFTER`: what --baseline reports, for two
// recorded snapshots.
func (e *env) diffCmd() *cobra.Command {
	var playbook string
	var dirs []string
	format := "text"
	cmd := &cobra.Command{
		Use:   "diff BEFORE.json AFTER.json",
		Short: "Compare two snapshots: the facts that moved most, by a playbook's classes",
		Long: `Compare two snapshots from diagnose collect (a baseline recorded while all was well, and one
from now): the facts a playbook reads that moved most, grouped by its classes, as --baseline reports them.
The playbook is slow-app when AFTER was recorded with a process, else system (--playbook picks another).`,
		Example: "  diagnose collect --pid 4242 -o monday.json\n  diagnose collect --pid 4242 -o now.json\n  diagnose diff monday.json now.json",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usagef("diff compares two snapshots: diagnose diff BEFORE.json AFTER.json")
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error { return e.diff(args[0], args[1], playbook, dirs, format) },
	}
	return builtin(cmd, func(fs *pflag.FlagSet) {
		fs.StringVar(&playbook, "playbook", "", "compare through this playbook's facts and classes (`NAME`; default slow-app with a process, else system)")
		enumVar(fs, &format, "format", "output format", "format", []string{"json", "markdown", "text"})
		playbooksFlag(fs, &dirs)
	})
}

func (e *env) diff(beforePath, afterPath, name string, dirs []string, format string) error {
	before, err := readBaseline("BEFORE", beforePath)
	if err != nil {
		return err
	}
	after, err := readSnapshot("AFTER", afterPath)
	if err != nil {
		return err
	}
	if name == "" {
		name = "system"
		if after.Target.PID > 0 {
			name = "slow-app"
		}
	}
	pb, err := e.playbookNamed(name, dirs)
	if err != nil {
		return err
	}
	d := report.Diff{SchemaVersion: report.SchemaVersion, Tool: "diagnose " + versionString(), Playbook: pb.Name, Notes: []string{}}
	note, err := before.comparable(nil, snapshotIdentity(after))
	if err != nil {
		return err
	}
	if note != "" {
		d.Notes = append(d.Notes, note)
	}
	base, _ := before.run()
	d.Before = base.Side
	d.After = report.Side{Source: "snapshot:" + afterPath, CollectedAt: after.CollectedAt.UTC().Format(timeFormat), Target: after.Target}
	d.Changes = report.Compare(pb, before.snap.Facts, after.Facts, base.Missing, report.Missing(statusReport(after.Status)))
	switch format {
	case "json":
		return report.WriteJSON(e.stdout, d)
	case "markdown":
		return report.DiffMarkdown(e.stdout, d)
	}
	return report.DiffText(e.stdout, d, report.Style{Color: isTerminal(e.stdout)})
}
