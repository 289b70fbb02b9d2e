package main

import (
	"fmt"
	"strings"
)

var subcommands = []string{"run", "list", "validate", "facts", "collect", "test", "schema", "completion", "help", "version"}

var runFlagNames = []string{"--format", "--fail-on", "--duration", "--timeout", "--snapshot", "--playbooks",
	"--strace", "--strace-file", "--jcmd", "--root", "--overlay", "--output", "--help"}

// completion is `diagnose completion bash|zsh|fish`: a script that completes
// subcommands, the embedded playbooks' names and the run flags.
func (e *env) completion(args []string) error {
	if len(args) != 1 {
		return usagef("completion needs one shell: diagnose completion bash|zsh|fish")
	}
	cat, err := catalog(nil)
	if err != nil {
		return err
	}
	words := append([]string{}, subcommands...)
	for _, s := range cat {
		words = append(words, s.name)
	}
	flags := append(append([]string{}, runFlagNames...), "--pid", "--cgroup")
	switch args[0] {
	case "bash":
		fmt.Fprintf(e.stdout, `# bash completion for diagnose; load with: source <(diagnose completion bash)
_diagnose() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W %q -- "$cur"))
  elif [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W %q -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _diagnose diagnose
`, strings.Join(words, " "), strings.Join(flags, " "))
	case "zsh":
		fmt.Fprintf(e.stdout, `#compdef diagnose
# zsh completion for diagnose; load with: source <(diagnose completion zsh)
_diagnose() {
  if (( CURRENT == 2 )); then
    compadd -- %s
  elif [[ "$PREFIX" == -* ]]; then
    compadd -- %s
  else
    _files
  fi
}
compdef _diagnose diagnose
`, strings.Join(words, " "), strings.Join(flags, " "))
	case "fish":
		fmt.Fprintln(e.stdout, "# fish completion for diagnose; load with: diagnose completion fish | source")
		fmt.Fprintf(e.stdout, "complete -c diagnose -n __fish_use_subcommand -f -a %q\n", strings.Join(words, " "))
		for _, f := range flags {
			fmt.Fprintf(e.stdout, "complete -c diagnose -l %s\n", strings.TrimPrefix(f, "--"))
		}
	default:
		return usagef("completion: unknown shell %q; valid: bash, zsh, fish", args[0])
	}
	return nil
}
