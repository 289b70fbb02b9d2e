package main

import (
	"github.com/diagnose-sh/diagnose/engine"
)

// schemaCmd is `diagnose schema [playbook|test|overlay]`: a JSON Schema for
// editors. With yaml-language-server, put this first in a playbook:
//
//	# yaml-language-server: $schema=./diagnose-playbook.schema.json
func (e *env) schemaCmd(args []string) error {
	kind := "playbook"
	if len(args) > 1 {
		return usagef("schema takes one of playbook, test, overlay")
	}
	if len(args) == 1 {
		kind = args[0]
	}
	s, ok := engine.JSONSchemas()[kind]
	if !ok {
		return usagef("schema %q: valid kinds are playbook, test, overlay", kind)
	}
	return writeJSON(e.stdout, s)
}
