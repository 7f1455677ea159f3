package regionctl_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/regionctl"
)

// TestExamplesParse: every regionctl command line shown in a --help
// example or in the docs names a command that exists, with flags it has,
// values they accept and the number of arguments it takes, and every
// repository file it names (deploy/...) exists. A person who copies an
// example gets the command to run, not a usage error.
func TestExamplesParse(t *testing.T) {
	type example struct{ where, line string }
	var examples []example
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, l := range strings.Split(c.Example, "\n") {
			examples = append(examples, example{fmt.Sprintf("%q --help", c.CommandPath()), l})
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(regionctl.New(&bytes.Buffer{}, &bytes.Buffer{}))
	docs, _ := filepath.Glob("../docs/*.md")
	for _, doc := range append(docs, "../README.md", "../deploy/README.md") {
		for i, l := range codeLines(t, doc) {
			examples = append(examples, example{fmt.Sprintf("%s, code line %d", doc, i+1), l})
		}
	}
	checked := 0
	for _, ex := range examples {
		l := strings.TrimSpace(ex.line)
		if !strings.HasPrefix(l, "regionctl ") && !strings.HasPrefix(l, "bin/regionctl ") {
			continue
		}
		words, err := shellWords(l)
		if err != nil {
			t.Errorf("%s: %q: %v", ex.where, ex.line, err)
			continue
		}
		checked++
		if err := checkCommandLine(words[1:]); err != nil {
			t.Errorf("%s: %q: %v", ex.where, ex.line, err)
		}
	}
	if checked < 60 {
		t.Errorf("only %d example command lines found: the scan is broken", checked)
	}
}

// checkCommandLine parses args as regionctl would, without running it.
func checkCommandLine(args []string) error {
	root := regionctl.New(&bytes.Buffer{}, &bytes.Buffer{})
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if cmd == root && len(args) > 0 {
		return fmt.Errorf("no command")
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	if !cmd.Runnable() {
		return fmt.Errorf("%q only prints its help", cmd.CommandPath())
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return err
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return err
	}
	if err := cmd.ValidateFlagGroups(); err != nil {
		return err
	}
	for _, a := range args {
		if strings.HasPrefix(a, "deploy/") {
			if _, err := os.Stat(filepath.Join("..", a)); err != nil {
				return fmt.Errorf("names a file that is not in the repository: %w", err)
			}
		}
	}
	return nil
}

// codeLines returns the lines of the fenced code blocks of a Markdown
// file, a line ending in a backslash joined with the next.
func codeLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in, cont := false, ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			in = !in
			continue
		}
		if !in {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cont += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		out = append(out, cont+l)
		cont = ""
	}
	return out
}

// shellWords splits a shell command line into words: quotes group,
// a # comment, a pipe, a redirection or a ; ends the command.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
			continue
		case r == '"' || r == '\'':
			quote, inWord = r, true
			continue
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			continue
		case (r == '#' && !inWord) || r == '|' || r == '>' || r == '<' || r == ';' || r == '&':
			if quote == 0 {
				if inWord {
					words = append(words, cur.String())
				}
				return words, nil
			}
		}
		cur.WriteRune(r)
		inWord = true
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
