// Package replay reads the dead-letter topic and writes chosen dead letters back to the topic
// they came from. `atlas dlq` and the console's dead-letter page both go through it, so a
// replay from either is the same act: the record's key, value and original headers, on its
// original topic. A dead-lettered message never took effect, so one replay applies it once;
// each replay is a new message to its consumers, whose idempotence (the command id) makes a
// second replay of the same letter harmless where the command is one they dedupe.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/topicread"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Position is where a dead letter is on the dead-letter topic.
type Position struct {
	Partition int32
	Offset    int64
}

func (p Position) String() string { return fmt.Sprintf("%d/%d", p.Partition, p.Offset) }

// ParsePosition reads "partition/offset", e.g. 3/1041.
func ParsePosition(text string) (Position, error) {
	part, off, ok := strings.Cut(strings.TrimSpace(text), "/")
	pn, err1 := strconv.ParseInt(part, 10, 32)
	on, err2 := strconv.ParseInt(off, 10, 64)
	if !ok || err1 != nil || err2 != nil || pn < 0 || on < 0 {
		return Position{}, fmt.Errorf("%q: want partition/offset, e.g. 3/1041", text)
	}
	return Position{int32(pn), on}, nil
}

// Entry is a listed dead letter: where it is, where it came from and why.
type Entry struct {
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Timestamp time.Time `json:"timestamp"`
	Topic     string    `json:"topic"`
	From      string    `json:"from"` // original partition/offset
	Group     string    `json:"group"`
	Reason    string    `json:"reason"`
	Key       string    `json:"key"`
	Cut       bool      `json:"cut,omitempty"` // the value was cut to fit: it cannot be replayed
}

// Describe is the listed form of a dead-letter record.
func Describe(r *kgo.Record) Entry {
	h := topicread.HeaderMap(r.Headers)
	d, err := codecs.DeadLetterFromHeaders(h)
	e := Entry{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp, Topic: d.Topic, Group: d.Group,
		Reason: d.Reason, From: Position{d.Partition, d.Offset}.String(), Key: topicread.KeyText(r.Key)}
	if err != nil {
		e.Reason = "(not a dead-letter record: " + err.Error() + ")"
	}
	_, e.Cut = h[codecs.HeaderDLQOriginalLength]
	return e
}

// Filter chooses dead letters: by original topic (empty: any) and by a text the reason
// contains (empty: any).
type Filter struct {
	Topic  string
	Reason string
}

func (f Filter) match(e Entry) bool {
	return (f.Topic == "" || e.Topic == f.Topic) && strings.Contains(e.Reason, f.Reason)
}

// Reader reads one dead-letter topic with a client of its own, made with
// topicread.ReaderOpts: a read adds and removes the partitions it reads, so one Reader serves
// one read at a time.
type Reader struct {
	Client *kgo.Client
	Topic  string
	// Wait bounds how long the brokers may take to answer a metadata or offsets request.
	Wait time.Duration
}

func (rd Reader) wait() time.Duration {
	if rd.Wait <= 0 {
		return 15 * time.Second
	}
	return rd.Wait
}

// Each calls f for every dead letter matching filter, oldest first in each partition, until
// f returns false. It reads from each partition's first record held (not "the start"), so a
// partition whose records are all gone by retention does not look unfinished.
func (rd Reader) Each(ctx context.Context, filter Filter, f func(Entry, *kgo.Record) bool) error {
	starts, ends, err := rd.bounds(ctx)
	if err != nil {
		return err
	}
	return topicread.Read(ctx, rd.Client, rd.Topic, starts, ends, func(r *kgo.Record) bool {
		if e := Describe(r); filter.match(e) {
			return f(e, r)
		}
		return true
	})
}

// Newest returns the last n dead letters of each partition that match filter, newest first
// across partitions by timestamp. Only those last n records per partition are read, so its
// cost does not grow with the topic.
func (rd Reader) Newest(ctx context.Context, filter Filter, n int) ([]Entry, error) {
	starts, ends, err := rd.bounds(ctx)
	if err != nil {
		return nil, err
	}
	from := map[int32]int64{}
	for p, end := range ends {
		from[p] = max(starts[p], end-int64(n))
	}
	var out []Entry
	err = topicread.Read(ctx, rd.Client, rd.Topic, from, ends, func(r *kgo.Record) bool {
		if e := Describe(r); filter.match(e) {
			out = append(out, e)
		}
		return true
	})
	sortNewestFirst(out)
	if len(out) > n {
		out = out[:n]
	}
	return out, err
}

// bounds are the first offset held and the end of each partition of the topic.
func (rd Reader) bounds(ctx context.Context) (starts, ends map[int32]int64, err error) {
	if ends, err = topicread.EndOffsets(ctx, rd.Client, rd.Topic, rd.wait()); err != nil {
		return nil, nil, err
	}
	starts, err = topicread.StartOffsets(ctx, rd.Client, rd.Topic, rd.wait())
	return starts, ends, err
}

// ErrNotFound: the dead-letter topic holds no record at that position.
var ErrNotFound = errors.New("no dead letter")

// Find reads the records at the given positions; a position without a record is an error
// naming it.
func (rd Reader) Find(ctx context.Context, want ...Position) (map[Position]*kgo.Record, error) {
	starts, ends, err := rd.bounds(ctx)
	if err != nil {
		return nil, err
	}
	from, to := map[int32]int64{}, map[int32]int64{}
	for _, p := range want {
		if _, ok := ends[p.Partition]; !ok || p.Offset >= ends[p.Partition] || p.Offset < starts[p.Partition] {
			return nil, fmt.Errorf("%w at %s of %s", ErrNotFound, p, rd.Topic)
		}
		if cur, ok := from[p.Partition]; !ok || p.Offset < cur {
			from[p.Partition] = p.Offset
		}
		to[p.Partition] = max(to[p.Partition], p.Offset+1)
	}
	found := map[Position]*kgo.Record{}
	wanted := map[Position]bool{}
	for _, p := range want {
		wanted[p] = true
	}
	err = topicread.Read(ctx, rd.Client, rd.Topic, from, to, func(r *kgo.Record) bool {
		if k := (Position{r.Partition, r.Offset}); wanted[k] {
			found[k] = r
		}
		return len(found) < len(wanted)
	})
	if err != nil {
		return nil, err
	}
	for _, p := range want {
		if found[p] == nil {
			return nil, fmt.Errorf("%w at %s of %s", ErrNotFound, p, rd.Topic)
		}
	}
	return found, nil
}

// Result is where a replay wrote the dead letter.
type Result struct {
	From      Position `json:"-"`
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Offset    int64    `json:"offset"`
}

// ErrNotDeadLetter refuses the replay of a record on the dead-letter topic that does not say
// where it came from.
var ErrNotDeadLetter = errors.New("not a dead-letter record")

// ErrCut refuses the replay of a dead letter whose value was cut to fit the topic.
var ErrCut = errors.New("its value was cut to fit the dead-letter topic; the original is gone")

// Replay writes the dead letter r back to the topic it came from, with its key and its
// original headers (the dead-letter ones removed), through producer.
func Replay(ctx context.Context, producer *kgo.Client, r *kgo.Record) (Result, error) {
	h := topicread.HeaderMap(r.Headers)
	d, err := codecs.DeadLetterFromHeaders(h)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrNotDeadLetter, err)
	}
	if _, cut := h[codecs.HeaderDLQOriginalLength]; cut {
		return Result{}, ErrCut
	}
	out := &kgo.Record{Topic: d.Topic, Key: r.Key, Value: r.Value}
	for _, x := range r.Headers {
		if !strings.HasPrefix(x.Key, "x-atlas-dlq-") {
			out.Headers = append(out.Headers, x)
		}
	}
	if err := producer.ProduceSync(ctx, out).FirstErr(); err != nil {
		return Result{}, err
	}
	return Result{From: Position{r.Partition, r.Offset}, Topic: out.Topic, Partition: out.Partition, Offset: out.Offset}, nil
}

// Shown is a dead letter as the console shows it: the entry, its original headers and its
// value, with secrets masked (Mask).
type Shown struct {
	Entry
	Headers  map[string]string `json:"headers"`
	Value    json.RawMessage   `json:"value,omitempty"`
	ValueB64 []byte            `json:"valueBase64,omitempty"`
	// Withheld says why the value is not shown.
	Withheld string `json:"withheld,omitempty"`
}

// Show is r as an operator may see it: a JSON value with its secret members masked (Mask),
// anything else withheld. Dead letters of the internal topics are protobuf, which names no
// field and carries password hashes and sealed passwords; a value that is not JSON may be
// anything. A JSON value that still holds a secret word in some string after masking (JSON
// inside a string, a password in a reason) is withheld too. A replay sends the record
// itself, never this copy.
func Show(r *kgo.Record) Shown {
	l := topicread.Describe(r, nil)
	s := Shown{Entry: Describe(r), Headers: l.Headers}
	switch masked := Mask(l.Value); {
	case l.Value == nil:
		s.Withheld = "the value is not JSON (an internal protobuf record, or malformed), so it cannot be masked; atlas dlq show prints it to whoever may read the topic"
	case masked == nil || mentionsSecret(masked):
		s.Withheld = "the value names a secret where it cannot be masked; atlas dlq show prints it to whoever may read the topic"
	default:
		s.Value = masked
	}
	for k := range s.Headers {
		if secretName(k) {
			s.Headers[k] = Masked
		}
	}
	return s
}

// sortNewestFirst orders entries by timestamp, newest first (ties: partition, offset).
func sortNewestFirst(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int {
		if c := b.Timestamp.Compare(a.Timestamp); c != 0 {
			return c
		}
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(b.Offset - a.Offset)
	})
}

// Service answers the console's dead-letter requests: each request opens a client of its
// own (a read adds and removes partitions, so reads must not share one), at most two at a
// time, and each is bounded by its context.
type Service struct {
	Topic     string
	NewClient func() (*kgo.Client, error)
	slots     chan struct{}
}

// NewService reads and replays the dead letters of topic with clients from newClient.
func NewService(topic string, newClient func() (*kgo.Client, error)) *Service {
	return &Service{Topic: topic, NewClient: newClient, slots: make(chan struct{}, 2)}
}

func (s *Service) with(ctx context.Context, f func(Reader) error) error {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	cl, err := s.NewClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	return f(Reader{Client: cl, Topic: s.Topic, Wait: 10 * time.Second})
}

// Newest lists the newest n dead letters matching filter.
func (s *Service) Newest(ctx context.Context, filter Filter, n int) (out []Entry, err error) {
	err = s.with(ctx, func(rd Reader) error {
		out, err = rd.Newest(ctx, filter, n)
		return err
	})
	return out, err
}

// Show reads the dead letter at p, masked (Show).
func (s *Service) Show(ctx context.Context, p Position) (out Shown, err error) {
	err = s.withLetter(ctx, p, func(_ Reader, r *kgo.Record) error {
		out = Show(r)
		return nil
	})
	return out, err
}

// Replay replays the dead letter at p.
func (s *Service) Replay(ctx context.Context, p Position) (out Result, err error) {
	err = s.withLetter(ctx, p, func(rd Reader, r *kgo.Record) (err error) {
		out, err = Replay(ctx, rd.Client, r)
		return err
	})
	return out, err
}

// withLetter finds the dead letter at p and calls f with it.
func (s *Service) withLetter(ctx context.Context, p Position, f func(Reader, *kgo.Record) error) error {
	return s.with(ctx, func(rd Reader) error {
		found, err := rd.Find(ctx, p)
		if err != nil {
			return err
		}
		return f(rd, found[p])
	})
}
