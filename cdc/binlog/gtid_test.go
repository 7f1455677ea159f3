package binlog

import (
	"strings"
	"testing"
)

func TestCovers(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"1-1-87,2-2-5", "1-1-87", true},
		{"1-1-87,2-2-5", "1-1-88", false},
		{"1-1-87", "1-1-80,2-2-1", false},
		{"1-1-87", "", true},
		{"", "1-1-1", false},
	} {
		got, err := Covers("mariadb", tt.a, tt.b)
		if err != nil || got != tt.want {
			t.Errorf("Covers(%q, %q) = %v, %v; want %v", tt.a, tt.b, got, err, tt.want)
		}
	}
	if _, err := Covers("mariadb", "not-a-gtid", ""); err == nil {
		t.Error("a malformed set is accepted")
	}
}

func TestCheckSet(t *testing.T) {
	for _, s := range []string{"1-1-87,2-2-5", ""} {
		if err := CheckSet("mariadb", s); err != nil {
			t.Errorf("CheckSet(%q): %v", s, err)
		}
	}
	if err := CheckSet("mariadb", "1-1-x"); err == nil || !strings.Contains(err.Error(), `"1-1-x"`) {
		t.Errorf("CheckSet of a malformed set: %v, want an error naming it", err)
	}
}
