// Command diagnose-docs writes diagnose's reference from its command
// definitions: the generated part of docs/cli.md (make docs) and man pages
// (make man). It lives apart from diagnose so that the binary does not
// carry the man page renderer.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/spf13/cobra/doc"

	"github.com/diagnose-sh/diagnose/internal/cli"
)

func main() {
	cliDoc := flag.String("cli", "", "update the generated part of this Markdown `file` (docs/cli.md)")
	manDir := flag.String("man", "", "write man pages (section 1) to this `directory`")
	flag.Parse()
	if *cliDoc == "" && *manDir == "" {
		fmt.Fprintln(os.Stderr, "usage: diagnose-docs [-cli docs/cli.md] [-man DIR]")
		os.Exit(2)
	}
	if err := run(*cliDoc, *manDir); err != nil {
		fmt.Fprintf(os.Stderr, "diagnose-docs: %v\n", err)
		os.Exit(1)
	}
}

func run(cliDoc, manDir string) error {
	root := cli.Command()
	root.DisableAutoGenTag = true
	if cliDoc != "" {
		old, err := os.ReadFile(cliDoc)
		if err != nil {
			return err
		}
		updated, err := cli.UpdateReference(old, root)
		if err != nil {
			return fmt.Errorf("%s: %w", cliDoc, err)
		}
		if !bytes.Equal(old, updated) {
			if err := os.WriteFile(cliDoc, updated, 0o644); err != nil {
				return err
			}
			fmt.Printf("updated %s\n", cliDoc)
		}
	}
	if manDir != "" {
		if err := os.MkdirAll(manDir, 0o755); err != nil {
			return err
		}
		header := &doc.GenManHeader{Title: "DIAGNOSE", Section: "1", Source: "diagnose", Manual: "diagnose manual"}
		if err := doc.GenManTree(root, header, manDir); err != nil {
			return fmt.Errorf("man pages: %w", err)
		}
		fmt.Printf("wrote man pages to %s (man -l %s/diagnose.1)\n", manDir, manDir)
	}
	return nil
}
