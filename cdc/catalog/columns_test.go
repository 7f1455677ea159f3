package catalog

import "testing"

func TestIsGenerated(t *testing.T) {
	for extra, want := range map[string]bool{
		"VIRTUAL GENERATED": true,
		"STORED GENERATED":  true,
		"virtual generated": true,
		"PERSISTENT":        true,
		"VIRTUAL":           true,
		"DEFAULT_GENERATED": false, // MySQL 8: DEFAULT CURRENT_TIMESTAMP
		"DEFAULT_GENERATED on update CURRENT_TIMESTAMP": false,
		"auto_increment": false,
		"":               false,
	} {
		if got := IsGenerated(extra); got != want {
			t.Errorf("IsGenerated(%q) = %v, want %v", extra, got, want)
		}
	}
}
