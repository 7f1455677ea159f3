package event

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// A transaction whose message is larger than the producer's limit travels
// as ordered fragments. Each carries a slice of the whole message's
// encoding (Txn.Chunk), so that any transaction splits, even one whose
// single row is larger than the limit (a LONGBLOB of several MB); the
// applier joins them back once the last has arrived. Every fragment has
// the whole's Seq, GTID, bucket and dependencies.

// EncodeSplit encodes m as one message, or as fragments of at most
// maxBytes each.
func EncodeSplit(m *Message, maxBytes int) ([][]byte, error) {
	whole, err := Encode(m)
	if err != nil {
		return nil, err
	}
	if len(whole) <= maxBytes {
		return [][]byte{whole}, nil
	}
	frag := func(i, n int, chunk []byte) *Message {
		t := &Txn{GTID: m.Txn.GTID, Bucket: m.Txn.Bucket, Epoch: m.Txn.Epoch, Cell: m.Txn.Cell, Deps: m.Txn.Deps,
			Frag: &Fragment{Index: i, Count: n}, Chunk: chunk}
		return &Message{Kind: m.Kind, Source: m.Source, Seq: m.Seq, Pos: m.Pos, Time: m.Time, Sent: m.Sent, Txn: t}
	}
	// The chunk travels as it is, after its length and the rest of the
	// fragment (measured with the largest index and count).
	empty, err := Encode(frag(len(whole), len(whole), nil))
	if err != nil {
		return nil, err
	}
	size := maxBytes - len(empty) - binary.MaxVarintLen64
	if size < 1024 {
		return nil, fmt.Errorf("transaction %s: a fragment's header takes %d of the %d byte message limit: raise the limit", m.Txn.GTID, len(empty), maxBytes)
	}
	n := (len(whole) + size - 1) / size
	out := make([][]byte, n)
	for i := range out {
		if out[i], err = Encode(frag(i, n, whole[i*size:min((i+1)*size, len(whole))])); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Join decodes the whole message the fragments of one transaction carry
// (all of them, in order). Errors wrap ErrInvalid.
func Join(frags []*Message) (*Message, error) {
	var b bytes.Buffer
	for i, f := range frags {
		if f.Txn == nil || f.Txn.Frag == nil || f.Txn.Frag.Index != i || f.Txn.Frag.Count != len(frags) || f.Seq != frags[0].Seq {
			return nil, fmt.Errorf("%w: seq %d: fragment %d of %d is not the next of the transaction", ErrInvalid, frags[0].Seq, i, len(frags))
		}
		b.Write(f.Txn.Chunk)
	}
	m, err := Decode(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("transaction %s joined from %d fragments: %w", frags[0].Txn.GTID, len(frags), err)
	}
	if m.Kind != KindTxn || m.Txn.Frag != nil || m.Seq != frags[0].Seq || m.Txn.GTID != frags[0].Txn.GTID {
		return nil, fmt.Errorf("%w: the %d fragments of seq %d (%s) join into seq %d (%s), not the same transaction", ErrInvalid, len(frags), frags[0].Seq, frags[0].Txn.GTID, m.Seq, m.Txn.GTID)
	}
	return m, nil
}
