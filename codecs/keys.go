package codecs

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// KeyLen is the length of the wire key: a uint32 id little-endian, then four zero bytes.
const KeyLen = 8

// IDKey encodes id in the 8-byte key form every producer of the contract writes.
func IDKey(id uint32) string {
	var b [KeyLen]byte
	binary.LittleEndian.PutUint32(b[:4], id)
	return string(b[:])
}

// ParseIDKey reads an id key. Besides the 8-byte form it accepts the bare 4-byte little-endian
// form and decimal text, which some older producers write.
func ParseIDKey(key []byte) (uint32, error) {
	switch {
	case len(key) == KeyLen && isDecimal(key):
		// Eight decimal digits are far likelier than an id whose bytes are all ASCII digits
		// followed by four digit bytes that should have been zero.
		return parseDecimalKey(key)
	case len(key) == KeyLen:
		if binary.LittleEndian.Uint32(key[4:]) != 0 {
			return 0, fmt.Errorf("key %x: bytes 4-7 must be zero", key)
		}
		return binary.LittleEndian.Uint32(key[:4]), nil
	case len(key) == 4 && !isDecimal(key):
		return binary.LittleEndian.Uint32(key), nil
	case len(key) > 0 && isDecimal(key):
		return parseDecimalKey(key)
	}
	return 0, fmt.Errorf("key %q: not an 8-byte, 4-byte or decimal id key", key)
}

func parseDecimalKey(key []byte) (uint32, error) {
	n, err := strconv.ParseUint(string(key), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("key %q: %w", key, err)
	}
	return uint32(n), nil
}

func isDecimal(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
