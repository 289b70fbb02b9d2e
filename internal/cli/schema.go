package cli

import (
	"sort"
	"strings"

	"github.com/diagnose-sh/diagnose/engine/report"

	"github.com/spf13/cobra"

	"github.com/diagnose-sh/diagnose/engine"
)

// schemaCmd is `diagnose schema [playbook|test|overlay]`: a JSON Schema for
// editors. With yaml-language-server, put this first in a playbook:
//
//	# yaml-language-server: $schema=./diagnose-playbook.schema.json
func (e *env) schemaCmd() *cobra.Command {
	schemas := engine.JSONSchemas()
	var kinds []string
	for k := range schemas {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return builtin(&cobra.Command{
		Use:       "schema [" + strings.Join(kinds, "|") + "]",
		Short:     "Print a JSON Schema of playbook, test or overlay files, for editors",
		Long:      "Print a JSON Schema of playbook (the default), test or overlay files, for editors with yaml-language-server.",
		Example:   "  diagnose schema > diagnose-playbook.schema.json\n  # then, first in a playbook: # yaml-language-server: $schema=./diagnose-playbook.schema.json",
		ValidArgs: kinds,
		Args: func(_ *cobra.Command, args []string) error {
			switch {
			case len(args) > 1:
				return usagef("schema takes one kind: %s", strings.Join(kinds, ", "))
			case len(args) == 1 && schemas[args[0]] == nil:
				return usagef("schema %q: valid kinds are %s", args[0], strings.Join(kinds, ", "))
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			kind := "playbook"
			if len(args) == 1 {
				kind = args[0]
			}
			return report.WriteJSON(e.stdout, schemas[kind])
		},
	}, nil)
}
