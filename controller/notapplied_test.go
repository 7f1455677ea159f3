package controller

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
)

// TestNotApplied: only a refusal before the log (not the leader) is safe
// to execute again; a command that lost leadership while waiting may
// still be applied.
func TestNotApplied(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&NotLeaderError{}, true},
		{fmt.Errorf("fence: %w", &NotLeaderError{LeaderID: "b"}), true},
		{fmt.Errorf("fence: %w (%w)", &NotLeaderError{}, raft.ErrLeadershipLost), false},
		{fmt.Errorf("fence: %w (%w)", &NotLeaderError{}, raft.ErrLeadershipTransferInProgress), true},
		{ErrRejected, false},
		{errors.New("timeout"), false},
	} {
		if got := NotApplied(tc.err); got != tc.want {
			t.Errorf("NotApplied(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
