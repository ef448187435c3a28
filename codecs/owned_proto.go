package codecs

import (
	"bytes"
	"hash/maphash"
	"sync"

	"google.golang.org/protobuf/proto"
)

// ownedProtoKeep is how many encoded values an OwnedProto remembers. A key's value is found
// again if the key's next command comes within this many table writes of the group instance.
// ownedProtoMaxBytes bounds one remembered value: an account row is about 1.5 kB, and one
// near the record limit is rare enough to unmarshal, so what a codec holds stays bounded
// (ownedProtoKeep * ownedProtoMaxBytes, and the decoded values) whatever the rows hold.
const (
	ownedProtoKeep     = 4096
	ownedProtoMaxBytes = 8 << 10
)

// OwnedProto is the Proto codec of a group table whose callback reads each key's value, changes
// it and writes it back. It remembers the values it encoded last, by their bytes: when the same
// bytes are decoded again (the key's next ctx.Value), it hands back that value instead of
// unmarshalling it, which for the accounts table was 8 % of the cores under a burst of session
// commands.
//
// A remembered value is handed out once and forgotten, so the caller owns what Decode returns
// and may change it; in return a callback must not change a value after passing it to
// SetValue (the codec keeps it). Values are found by their full bytes, so what Decode returns
// always equals what unmarshalling those bytes gives. Everything that decodes with the group's
// codec takes part: Goka's tester reads table values with it too (so a test's TableValue takes
// the row, and the next command unmarshals its own); views have codecs of their own.
type OwnedProto[T any, P interface {
	*T
	proto.Message
}] struct {
	mu     sync.Mutex
	seed   maphash.Seed
	byHash map[uint64]ownedValue[P]
	order  []ownedSlot // the values by age, a ring of ownedProtoKeep
	next   int         // where order takes the next value
	writes uint64
}

type ownedValue[P any] struct {
	data  []byte
	value P
	write uint64 // which Encode remembered it
}

type ownedSlot struct {
	hash, write uint64
}

// Encode marshals a *T and remembers it.
func (c *OwnedProto[T, P]) Encode(value interface{}) ([]byte, error) {
	data, err := Proto[T, P]{}.Encode(value)
	if err != nil || len(data) > ownedProtoMaxBytes {
		return data, err
	}
	m := value.(P) // Proto.Encode took it: a P
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byHash == nil {
		c.seed = maphash.MakeSeed()
		c.byHash = make(map[uint64]ownedValue[P], ownedProtoKeep)
		c.order = make([]ownedSlot, 0, ownedProtoKeep)
	}
	c.writes++
	slot := ownedSlot{hash: maphash.Bytes(c.seed, data), write: c.writes}
	if len(c.order) < ownedProtoKeep {
		c.order = append(c.order, slot)
	} else {
		// The oldest value goes, unless it was taken already or the same bytes were written
		// again since (then the entry is the newer write's).
		if old := c.order[c.next]; c.byHash[old.hash].write == old.write {
			delete(c.byHash, old.hash)
		}
		c.order[c.next] = slot
		c.next = (c.next + 1) % ownedProtoKeep
	}
	c.byHash[slot.hash] = ownedValue[P]{data: data, value: m, write: slot.write}
	return data, nil
}

// Decode hands back the value data was encoded from, if remembered, and otherwise unmarshals
// into a new *T.
func (c *OwnedProto[T, P]) Decode(data []byte) (interface{}, error) {
	if m, ok := c.take(data); ok {
		return m, nil
	}
	return Proto[T, P]{}.Decode(data)
}

func (c *OwnedProto[T, P]) take(data []byte) (P, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byHash == nil {
		return nil, false
	}
	h := maphash.Bytes(c.seed, data)
	v, ok := c.byHash[h]
	if !ok || !bytes.Equal(v.data, data) {
		return nil, false
	}
	delete(c.byHash, h)
	return v.value, true
}
