package engine

// JSONSchemas returns JSON Schemas (draft-07, as yaml-language-server reads
// them) for playbooks, test files and overlays. They describe the structure;
// expressions and references are checked by `diagnose validate`.
func JSONSchemas() map[string]any {
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	severity := map[string]any{"type": "string", "enum": severities, "description": "info (context), warning or critical"}
	id := map[string]any{"type": "string", "pattern": `^[a-z][a-z0-9]*([-_][a-z0-9]+)*$`}
	ident := map[string]any{"type": "string", "pattern": `^[a-z][a-z0-9_]*$`}
	strList := func(desc string) map[string]any {
		return map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "description": desc}
	}
	object := func(desc string, required []string, props map[string]any) map[string]any {
		o := map[string]any{"type": "object", "description": desc, "additionalProperties": false, "properties": props}
		if len(required) > 0 {
			o["required"] = required
		}
		return o
	}
	scalar := map[string]any{"type": []string{"string", "number", "boolean"}}
	rule := object("a check: when its condition holds it is a finding of its class",
		[]string{"id", "class", "severity", "when", "evidence"}, map[string]any{
			"id":       id,
			"class":    str("one of the playbook's classes"),
			"severity": severity,
			"when":     str("boolean expr expression over facts, params.NAME and condition names"),
			"evidence": str("text with {{ expression }} segments showing the numbers, e.g. {{ pct(cpu.iowait_pct) }}"),
			"explain":  str("what the finding means, briefly"),
			"next":     strList("commands a person should run next (templated; shown, never executed)"),
		})
	param := object("a typed input; becomes a CLI flag", []string{"name", "type"}, map[string]any{
		"name":        ident,
		"type":        map[string]any{"type": "string", "enum": []string{"int", "string", "bool", "duration", "bytes"}},
		"required":    map[string]any{"type": "boolean"},
		"default":     scalar,
		"description": str("shown in --help"),
	})
	playbook := object("a diagnose playbook", []string{"name", "classes", "rules"}, map[string]any{
		"name":        id,
		"description": str("one line shown by diagnose list"),
		"parameters":  map[string]any{"type": "array", "items": param},
		"classes":     map[string]any{"type": "array", "items": ident, "minItems": 1, "description": "the classes rules use, in tie-break order"},
		"conditions":  map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}, "propertyNames": ident},
		"rules":       map[string]any{"type": "array", "items": rule},
		"export":      map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "description": "numeric facts that --format prometheus and diagnose serve carry as metrics (diagnose facts lists them)"},
	})
	playbook["$schema"] = "http://json-schema.org/draft-07/schema#"
	playbook["$id"] = "https://diagnose.sh/schema/playbook.json"

	fire := map[string]any{"oneOf": []any{
		id,
		object("a finding that must be present", []string{"rule"}, map[string]any{
			"rule": id, "severity": severity, "evidence": str("a piece of the evidence"),
		}),
	}}
	testCase := object("one case: inputs and what the playbook must conclude", []string{"name", "expect"}, map[string]any{
		"name":        str("shown in reports"),
		"snapshot":    str("a snapshot from diagnose collect, relative to this file"),
		"baseline":    str("a snapshot read as baseline.SECTION.FACT (--baseline), relative to this file"),
		"params":      map[string]any{"type": "object", "additionalProperties": scalar},
		"facts":       map[string]any{"type": "object", "description": "facts merged over the snapshot's, by the names diagnose facts lists"},
		"unavailable": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}, "description": "fact path → reason, as if its probe could not read it"},
		"expect": object("expectations", nil, map[string]any{
			"verdict":  str("the verdict class, none or inconclusive"),
			"fire":     map[string]any{"type": "array", "items": fire},
			"not_fire": map[string]any{"type": "array", "items": id},
			"unknown":  map[string]any{"type": "array", "items": id},
		}),
	})
	test := object("a diagnose playbook test file", []string{"playbook", "tests"}, map[string]any{
		"playbook": str("a playbook file relative to this file (ending in .yaml) or an embedded playbook's name"),
		"overlay":  str("an overlay file to apply, relative to this file"),
		"tests":    map[string]any{"type": "array", "items": testCase, "minItems": 1},
	})
	test["$schema"] = "http://json-schema.org/draft-07/schema#"
	test["$id"] = "https://diagnose.sh/schema/test.json"

	ruleOverride := object("changes to one rule", nil, map[string]any{
		"class": str("another of the playbook's classes"), "severity": severity,
		"when": str("replacement condition"), "evidence": str("replacement evidence template"),
		"explain": str("replacement explanation"), "next": strList("replacement next steps"),
		"disabled": str("turn the rule off; the reason is shown in reports"),
	})
	overlay := object("tunes a playbook without copying it", []string{"overlay"}, map[string]any{
		"overlay":     id,
		"description": str("replacement description"),
		"parameters":  map[string]any{"type": "object", "additionalProperties": scalar, "description": "parameter → new default"},
		"conditions":  map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}, "description": "condition → replacement expression"},
		"rules":       map[string]any{"type": "object", "additionalProperties": ruleOverride, "description": "rule id → changes"},
	})
	overlay["$schema"] = "http://json-schema.org/draft-07/schema#"
	overlay["$id"] = "https://diagnose.sh/schema/overlay.json"
	return map[string]any{"playbook": playbook, "test": test, "overlay": overlay}
}
