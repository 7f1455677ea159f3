package controller

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// ErrBadCommand is wrapped by every error about a command's form: unknown
// op, unknown or missing field, bad value. Such a command is never applied.
var ErrBadCommand = errors.New("bad command")

// Op names. On the wire a command is a JSON object with "op" naming one of
// these and the op's own fields beside it:
//
//	{"op":"region.fence","region":"b","reason":"declared failed","at":"2026-11-25T10:00:00Z","actor":"controller"}
const (
	OpRegionFence     = "region.fence"
	OpRegionUnfence   = "region.unfence"
	OpRegionFailed    = "region.failed"
	OpRegionReturned  = "region.returned"
	OpRegionHold      = "region.hold"
	OpRegionRelease   = "region.release"
	OpCellPlace       = "cell.place"
	OpFailoverBegin   = "failover.begin"
	OpFailoverStep    = "failover.step"
	OpFailoverEnd     = "failover.end"
	OpFailoverRPO     = "failover.rpo"
	OpDrillStart      = "drill.start"
	OpDrillRecord     = "drill.record"
	OpDrillSchedule   = "drill.schedule"
	OpDrillUnschedule = "drill.unschedule"
	OpRegionRebuild   = "region.rebuild"
)

// Command is one change to the replicated State. The concrete types are
// FenceRegion, UnfenceRegion, MarkRegionFailed, MarkRegionReturned,
// HoldRegion, ReleaseRegion,
// PlaceCell, BeginFailover, StepFailover, EndFailover, CompleteRPO, StartDrill,
// RecordDrill, ScheduleDrill and UnscheduleDrill.
//
// A command carries its own time (Header.At): the leader sets it before
// the command enters the log, so every node that applies or replays it
// computes the same state.
type Command interface {
	// Op is the command's name on the wire, e.g. "region.fence".
	Op() string
	header() *Header
	// check validates the fields alone.
	check() error
	// apply validates the command against s, then changes s. It leaves s
	// untouched when it returns an error.
	apply(s *State) error
}

// Header is common to every command.
type Header struct {
	// At is when the leader accepted the command. Node.Execute sets it from
	// its clock when it is zero.
	At time.Time `json:"at"`
	// Actor is who asked: an operator's name, "controller", "drill-runner".
	Actor string `json:"actor,omitempty"`
}

func (h *Header) header() *Header { return h }

func newCommand(op string) (Command, error) {
	switch op {
	case OpRegionFence:
		return &FenceRegion{}, nil
	case OpRegionUnfence:
		return &UnfenceRegion{}, nil
	case OpRegionFailed:
		return &MarkRegionFailed{}, nil
	case OpRegionReturned:
		return &MarkRegionReturned{}, nil
	case OpRegionHold:
		return &HoldRegion{}, nil
	case OpRegionRelease:
		return &ReleaseRegion{}, nil
	case OpCellPlace:
		return &PlaceCell{}, nil
	case OpFailoverBegin:
		return &BeginFailover{}, nil
	case OpFailoverStep:
		return &StepFailover{}, nil
	case OpFailoverEnd:
		return &EndFailover{}, nil
	case OpFailoverRPO:
		return &CompleteRPO{}, nil
	case OpDrillStart:
		return &StartDrill{}, nil
	case OpDrillRecord:
		return &RecordDrill{}, nil
	case OpDrillSchedule:
		return &ScheduleDrill{}, nil
	case OpDrillUnschedule:
		return &UnscheduleDrill{}, nil
	case OpRegionRebuild:
		return &RecordRebuild{}, nil
	}
	return nil, fmt.Errorf("%w: unknown op %q", ErrBadCommand, op)
}

// EncodeCommand returns the wire form of c: its fields plus "op". It
// checks the fields first.
func EncodeCommand(c Command) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadCommand, c.Op(), err)
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadCommand, c.Op(), err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadCommand, c.Op(), err)
	}
	op, _ := json.Marshal(c.Op())
	fields["op"] = op
	return json.Marshal(fields)
}

// DecodeCommand parses the wire form of a command strictly: the op must be
// known, every field must belong to it and have the right type, and the
// fields must be valid. Errors wrap ErrBadCommand and name the op and field.
func DecodeCommand(b []byte) (Command, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %w", ErrBadCommand, err)
	}
	rawOp, ok := fields["op"]
	if !ok {
		return nil, fmt.Errorf("%w: field \"op\" is missing", ErrBadCommand)
	}
	var op string
	if err := json.Unmarshal(rawOp, &op); err != nil {
		return nil, fmt.Errorf("%w: field \"op\" must be a string", ErrBadCommand)
	}
	c, err := newCommand(op)
	if err != nil {
		return nil, err
	}
	delete(fields, "op")
	rest, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadCommand, op, err)
	}
	dec := json.NewDecoder(bytes.NewReader(rest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%w: %s: field %q: want %s, got %s", ErrBadCommand, op, te.Field, te.Type, te.Value)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrBadCommand, op, err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadCommand, op, err)
	}
	return c, nil
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// checkName checks a region, cell, plan or record id.
func checkName(field, v string) error {
	if v == "" {
		return fmt.Errorf("field %q is required", field)
	}
	if !nameRE.MatchString(v) {
		return fmt.Errorf("field %q: %q is not a name (lower-case letters, digits, '.', '_', '-'; at most 63)", field, v)
	}
	return nil
}

func checkTime(field string, t time.Time) error {
	if t.IsZero() {
		return fmt.Errorf("field %q is required", field)
	}
	return nil
}

func oneOf(field, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("field %q: %q is not one of %q", field, v, allowed)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
