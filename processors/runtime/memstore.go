package runtime

import (
	"bytes"
	"errors"
	"sort"
	"sync"

	"github.com/lovoo/goka/storage"
)

// memStore is an in-memory Goka storage for tables that are recovered from Kafka at each
// start. Goka's own memory storage re-sorts every key on each insert and scans all keys on
// each delete, so recovering n records costs O(n²); here writes are map operations and the
// sorted key list that iteration needs is rebuilt only when an iterator asks after a change.
type memStore struct {
	mu     sync.RWMutex
	data   map[string][]byte
	sorted []string // nil when a key was added or removed since the last sort
	offset *int64
}

// MemStorageBuilder builds a memStore per table partition.
func MemStorageBuilder() storage.Builder {
	return func(string, int32) (storage.Storage, error) { return newMemStore(), nil }
}

func newMemStore() *memStore { return &memStore{data: make(map[string][]byte)} }

func (m *memStore) Open() error          { return nil }
func (m *memStore) Close() error         { return nil }
func (m *memStore) MarkRecovered() error { return nil }

func (m *memStore) Has(key string) (bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.data[key]
	return ok, nil
}

func (m *memStore) Get(key string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.data[key], nil
}

func (m *memStore) Set(key string, value []byte) error {
	if value == nil {
		return errors.New("cannot write nil value")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.data[key]; !ok {
		m.sorted = nil
	}
	m.data[key] = value
	return nil
}

func (m *memStore) Delete(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.data[key]; ok {
		delete(m.data, key)
		m.sorted = nil
	}
	return nil
}

func (m *memStore) GetOffset(def int64) (int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.offset == nil {
		return def, nil
	}
	return *m.offset, nil
}

func (m *memStore) SetOffset(offset int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.offset = &offset
	return nil
}

// keys returns the sorted keys, sorting them if something changed since the last call.
func (m *memStore) keys() []string {
	m.mu.RLock()
	sorted := m.sorted
	m.mu.RUnlock()
	if sorted != nil {
		return sorted
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sorted == nil {
		m.sorted = make([]string, 0, len(m.data))
		for k := range m.data {
			m.sorted = append(m.sorted, k)
		}
		sort.Strings(m.sorted)
	}
	return m.sorted
}

// Iterator walks a snapshot of the keys in order; values are read as the iterator reaches
// them, so a key deleted meanwhile is skipped.
func (m *memStore) Iterator() (storage.Iterator, error) {
	return &memIter{m: m, keys: m.keys(), pos: -1}, nil
}

// IteratorWithRange walks the keys k with start <= k < limit (no limit: every key with the
// prefix start), as Goka's LevelDB storage does.
func (m *memStore) IteratorWithRange(start, limit []byte) (storage.Iterator, error) {
	keys := m.keys()
	lo := sort.SearchStrings(keys, string(start))
	hi := len(keys)
	if len(limit) > 0 {
		hi = sort.SearchStrings(keys, string(limit))
	} else {
		for i := lo; i < len(keys); i++ {
			if !bytes.HasPrefix([]byte(keys[i]), start) {
				hi = i
				break
			}
		}
	}
	if hi < lo {
		hi = lo
	}
	return &memIter{m: m, keys: keys[lo:hi], pos: -1}, nil
}

type memIter struct {
	m     *memStore
	keys  []string
	pos   int
	value []byte
}

func (it *memIter) Next() bool {
	for it.pos+1 < len(it.keys) {
		it.pos++
		it.m.mu.RLock()
		v, ok := it.m.data[it.keys[it.pos]]
		it.m.mu.RUnlock()
		if ok {
			it.value = v
			return true
		}
	}
	it.pos = len(it.keys)
	return false
}

func (it *memIter) Err() error { return nil }

func (it *memIter) Key() []byte {
	if it.pos < 0 || it.pos >= len(it.keys) {
		return nil
	}
	return []byte(it.keys[it.pos])
}

func (it *memIter) Value() ([]byte, error) {
	if it.pos < 0 || it.pos >= len(it.keys) {
		return nil, nil
	}
	return it.value, nil
}

func (it *memIter) Release() { it.pos = len(it.keys) }

// Seek moves to the first key at or after key and reports whether there is one.
func (it *memIter) Seek(key []byte) bool {
	i := sort.SearchStrings(it.keys, string(key))
	it.pos = i - 1
	return it.Next()
}
