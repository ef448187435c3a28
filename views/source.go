// Package views reads the product's tables through Goka views and serves them over HTTP as
// JSON: accounts by id and by name, paged account lists, and the account registry. Every key
// of those tables starts with the tenant, so a request only ever reads its own tenant's rows.
package views

import (
	"errors"
	"fmt"

	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/lovoo/goka"
)

// ErrNotReady is returned before a view has recovered its table: until then a missing row
// may only be not read yet, so no answer would be trustworthy.
var ErrNotReady = errors.New("view not recovered yet")

// ViewSource is what the API needs of a table: a point read, an ordered key range, and
// whether the whole table has been read. A Goka view is one; tests may bring their own.
type ViewSource interface {
	// Ready reports whether the table has been recovered.
	Ready() bool
	// Get returns the decoded value of key, or nil when there is none.
	Get(key string) (interface{}, error)
	// IteratorWithRange walks the keys k with start <= k < limit in key order, over every
	// partition (an empty limit: every key with the prefix start).
	IteratorWithRange(start, limit string) (goka.Iterator, error)
}

// AccountSource is the accounts table with its ordered id index (AccountIndex).
type AccountSource interface {
	ViewSource
	// Page returns up to n ids of the tenant whose account keys start with prefix, from the
	// offset-th in id order, and how many the tenant has.
	Page(prefix string, offset, n uint64) (ids []uint32, total uint64)
	// Tenants are the account key prefixes of the tenants with accounts, each with its count.
	Tenants() map[string]uint64
}

// Indexed is src whose ids ix keeps (ix must be the index of src's view).
func Indexed(src ViewSource, ix *AccountIndex) AccountSource { return indexedSource{src, ix} }

type indexedSource struct {
	ViewSource
	ix *AccountIndex
}

func (s indexedSource) Tenants() map[string]uint64 { return s.ix.Tenants() }

func (s indexedSource) Page(prefix string, offset, n uint64) ([]uint32, uint64) {
	return s.ix.Page(prefix, offset, n)
}

// FromRunningView adapts a supervised view. Between two runs of the view (after a failure)
// it answers ErrNotReady rather than reading a view that is gone.
func FromRunningView(r *runtime.RunningView) ViewSource { return runningSource{r} }

type runningSource struct{ r *runtime.RunningView }

func (s runningSource) Ready() bool { return s.r.Ready() }

func (s runningSource) view() (*goka.View, error) {
	v := s.r.View()
	if v == nil || !s.r.Ready() {
		return nil, ErrNotReady
	}
	return v, nil
}

func (s runningSource) Get(key string) (interface{}, error) {
	v, err := s.view()
	if err != nil {
		return nil, err
	}
	val, err := v.Get(key)
	return val, s.stopped(err)
}

func (s runningSource) IteratorWithRange(start, limit string) (goka.Iterator, error) {
	v, err := s.view()
	if err != nil {
		return nil, err
	}
	it, err := v.IteratorWithRange(start, limit)
	return it, s.stopped(err)
}

// stopped turns the error of a read into ErrNotReady when the view stopped meanwhile (a
// failure, a restart): the caller should retry, not see an internal error.
func (s runningSource) stopped(err error) error {
	if err != nil && !s.r.Ready() {
		return fmt.Errorf("%w: %v", ErrNotReady, err)
	}
	return err
}

// FromView adapts a Goka view the caller runs itself (for instance one on Goka's tester).
func FromView(v *goka.View) ViewSource { return gokaSource{v} }

type gokaSource struct{ v *goka.View }

func (s gokaSource) Ready() bool { return s.v.Recovered() }

func (s gokaSource) Get(key string) (interface{}, error) {
	if !s.v.Recovered() {
		return nil, ErrNotReady
	}
	return s.v.Get(key)
}

func (s gokaSource) IteratorWithRange(start, limit string) (goka.Iterator, error) {
	if !s.v.Recovered() {
		return nil, ErrNotReady
	}
	return s.v.IteratorWithRange(start, limit)
}

// prefixLimit is the smallest key above every key that starts with prefix, for an exclusive
// range limit. It is spelled out because Goka's storages disagree on an empty limit, and its
// own in-memory storage even treats the limit as inclusive; no table key equals this limit,
// since it ends in the byte after the key's separator.
func prefixLimit(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "" // all 0xff: no upper bound
}
