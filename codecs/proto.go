package codecs

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Proto is a Goka codec for a protobuf message type, used for table values and internal
// topics. P is the pointer type (*accountpb.Account), T the struct type.
type Proto[T any, P interface {
	*T
	proto.Message
}] struct{}

// Encode marshals a *T. Any other value is an error, never a panic.
func (Proto[T, P]) Encode(value interface{}) ([]byte, error) {
	m, ok := value.(P)
	if !ok {
		return nil, fmt.Errorf("proto codec: got %T, want %T", value, P(nil))
	}
	return proto.Marshal(m)
}

// Decode unmarshals into a new *T.
func (Proto[T, P]) Decode(data []byte) (interface{}, error) {
	m := P(new(T))
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("proto codec %T: %w", m, err)
	}
	return m, nil
}
