package ticket

import (
	"container/heap"
	"sync"
	"time"
)

// DefaultReplayCapacity bounds the used ticket ids a verifier remembers. Only tickets whose
// signature checked are remembered, each until it expires; at the default lifetime this is a
// sustained 1,600 entries per second per instance before the memory is full.
const DefaultReplayCapacity = 100_000

// replayMemory remembers used ticket ids until they expire. Its size is bounded: when it is
// full of unexpired ids it refuses new ones rather than forgetting one early, which would let
// that ticket be used twice.
type replayMemory struct {
	mu       sync.Mutex
	capacity int
	entries  map[string]*entry
	order    expiryHeap // one element per entry
}

type entry struct {
	until    time.Time
	released bool // its entry did not happen; the ticket may be used again
}

func newReplayMemory(capacity int) *replayMemory {
	if capacity <= 0 {
		capacity = DefaultReplayCapacity
	}
	return &replayMemory{capacity: capacity, entries: map[string]*entry{}}
}

// use records id as used until the given time. It fails with Replayed when id is remembered,
// Busy when the memory is full.
func (m *replayMemory) use(id string, until, now time.Time) *Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgetExpired(now)
	if e, known := m.entries[id]; known {
		if !e.released {
			return refuse(Replayed, "this ticket was already used")
		}
		e.released = false
		return nil
	}
	if len(m.entries) >= m.capacity {
		return refuse(Busy, "too many recent entries; try again shortly")
	}
	m.entries[id] = &entry{until: until}
	heap.Push(&m.order, expiry{id: id, at: until})
	return nil
}

// release forgets a use, when the entry it was for did not happen for a reason of the
// channel's (full, starting), so the player may try again with the same ticket.
func (m *replayMemory) release(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[id]; ok {
		e.released = true
	}
}

func (m *replayMemory) forgetExpired(now time.Time) {
	for len(m.order) > 0 && !m.order[0].at.After(now) {
		delete(m.entries, heap.Pop(&m.order).(expiry).id)
	}
}

// size is how many ids are remembered.
func (m *replayMemory) size() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

type expiry struct {
	id string
	at time.Time
}

// expiryHeap orders ids by expiry, soonest first.
type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
