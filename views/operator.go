package views

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/channel/directory"
	"github.com/atlasstreams/atlas/processors/deadletter/replay"
	"github.com/google/uuid"
)

// The operator routes: which tenants exist, which channels are up, and the dead letters.
// They serve the console (package console) and anyone else with a token.

// DeadLetters is what the API needs of the dead-letter topic (a *replay.Service).
type DeadLetters interface {
	Newest(ctx context.Context, filter replay.Filter, n int) ([]replay.Entry, error)
	Show(ctx context.Context, p replay.Position) (replay.Shown, error)
	Replay(ctx context.Context, p replay.Position) (replay.Result, error)
}

// Paging of GET /api/deadletters.
const (
	DefaultDeadLetters = 50
	MaxDeadLetters     = 200
)

// deadLetterTimeout bounds a request that reads the dead-letter topic.
const deadLetterTimeout = 20 * time.Second

// ServeOperator adds the operator routes: channels from dir and dead letters from dlq
// (either nil: that route answers 404, as a process without it would).
func (a *API) ServeOperator(dir *directory.Directory, dlq DeadLetters) {
	a.global("GET /api/tenants", a.listTenants)
	if dir != nil {
		a.handle("GET /api/channels", func(r *http.Request, t codecs.Tenant) (any, error) {
			return channelsDocument(dir.Channels(t)), nil
		})
	}
	if dlq != nil {
		a.deadLetters = dlq
		a.admin("GET /api/deadletters", func(r *http.Request) (any, error) { return listDeadLetters(r, dlq) })
		a.letterRoute("GET /api/deadletters/{partition}/{offset}", "deadletters", func(ctx context.Context, p replay.Position) (any, error) {
			return dlq.Show(ctx, p)
		})
		a.letterRoute("POST /api/deadletters/{partition}/{offset}/replay", "replays", func(ctx context.Context, p replay.Position) (any, error) {
			return dlq.Replay(ctx, p)
		})
	}
}

// letterRoute registers an admin route about the dead letter at the path's partition and
// offset: f is given that position and the request's time bound, and its answer is the
// resource of type typ. A POST must be JSON: a form on another site can POST here, but not
// with that content type without the preflight this server never grants, so no page of
// elsewhere can cause a replay.
func (a *API) letterRoute(pattern, typ string, f func(ctx context.Context, p replay.Position) (any, error)) {
	a.admin(pattern, func(r *http.Request) (any, error) {
		if mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); r.Method == http.MethodPost && strings.TrimSpace(mt) != "application/json" {
			return nil, &httpError{http.StatusUnsupportedMediaType, "a replay is a POST with Content-Type: application/json"}
		}
		p, err := letterPosition(r)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(r.Context(), deadLetterTimeout)
		defer cancel()
		attrs, err := f(ctx, p)
		if err != nil {
			return nil, deadLetterError(err)
		}
		return single{Data: resource{Type: typ, ID: p.String(), Attributes: attrs}}, nil
	})
}

// global registers a route that reads no tenant's rows by tenant headers: authenticated and
// rate-limited, and h sees the token's scope.
func (a *API) global(pattern string, h func(r *http.Request, scope uuid.UUID) (any, error)) {
	a.routes = append(a.routes, pattern)
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		scope, ok := a.admit(w, r)
		if !ok {
			return
		}
		doc, err := h(r, scope)
		writeDocument(w, r, doc, err)
	})
}

// admin registers a route for tokens of every tenant only: dead letters belong to no tenant
// that can be trusted (a record that did not decode may not even have one).
func (a *API) admin(pattern string, h func(r *http.Request) (any, error)) {
	a.global(pattern, func(r *http.Request, scope uuid.UUID) (any, error) {
		if scope != uuid.Nil {
			apiRefusals.WithLabelValues("forbidden_tenant").Inc()
			return nil, &httpError{http.StatusForbidden, "dead letters are for tokens of every tenant; this one is scoped to one tenant"}
		}
		return h(r)
	})
}

// listData is a list without paging.
type listData struct {
	Data []resource `json:"data"`
}

type tenantAttributes struct {
	TenantID string `json:"tenantId"`
	Region   string `json:"region"`
	Major    uint16 `json:"majorVersion"`
	Minor    uint16 `json:"minorVersion"`
	Accounts uint64 `json:"accounts"`
}

// listTenants lists the tenants with accounts: every one for a token of every tenant, the
// token's own for a scoped one. A resource's id is the whole tenant (uuid:region:major.minor):
// one uuid may have several regions or versions, each its own resource.
func (a *API) listTenants(r *http.Request, scope uuid.UUID) (any, error) {
	if err := a.checkReady(); err != nil {
		return nil, err
	}
	type row struct {
		t codecs.Tenant
		n uint64
	}
	var rows []row
	for prefix, n := range a.accounts.Tenants() {
		t, err := model.ParseAccountKeyPrefix(prefix)
		if err != nil || (scope != uuid.Nil && t.ID != scope) {
			continue
		}
		rows = append(rows, row{t, n})
	}
	slices.SortFunc(rows, func(x, y row) int { return strings.Compare(x.t.String(), y.t.String()) })
	data := make([]resource, 0, len(rows))
	for _, x := range rows {
		data = append(data, resource{Type: "tenants", ID: x.t.String(), Attributes: tenantAttributes{
			TenantID: x.t.ID.String(), Region: x.t.Region, Major: x.t.Major, Minor: x.t.Minor, Accounts: x.n,
		}})
	}
	return listData{data}, nil
}

func channelsDocument(cs []directory.Channel) any {
	data := make([]resource, 0, len(cs))
	for _, c := range cs {
		data = append(data, resource{Type: "channels", ID: fmt.Sprintf("%d-%d", c.World, c.Channel), Attributes: c})
	}
	return listData{data}
}

func listDeadLetters(r *http.Request, dlq DeadLetters) (any, error) {
	q := r.URL.Query()
	n := DefaultDeadLetters
	if v := q.Get("limit"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			return nil, badRequest("limit must be a whole number of at least 1 (at most %d is used)", MaxDeadLetters)
		}
		n = min(n, MaxDeadLetters)
	}
	filter := replay.Filter{Topic: q.Get("topic"), Reason: q.Get("reason")}
	if len(filter.Topic) > 249 || len(filter.Reason) > 1024 {
		return nil, badRequest("topic is at most 249 characters and reason at most 1024")
	}
	ctx, cancel := context.WithTimeout(r.Context(), deadLetterTimeout)
	defer cancel()
	es, err := dlq.Newest(ctx, filter, n)
	if err != nil {
		return nil, deadLetterError(err)
	}
	data := make([]resource, 0, len(es))
	for _, e := range es {
		data = append(data, resource{Type: "deadletters", ID: replay.Position{Partition: e.Partition, Offset: e.Offset}.String(), Attributes: e})
	}
	return listData{data}, nil
}

func letterPosition(r *http.Request) (replay.Position, error) {
	p, err := replay.ParsePosition(r.PathValue("partition") + "/" + r.PathValue("offset"))
	if err != nil {
		return p, badRequest("partition and offset must be whole numbers of at least 0")
	}
	return p, nil
}

// deadLetterError is what the caller may see of a failed dead-letter request.
func deadLetterError(err error) error {
	switch {
	case errors.Is(err, replay.ErrNotFound):
		return notFound("%s", err.Error())
	case errors.Is(err, replay.ErrCut):
		return &httpError{http.StatusConflict, "this dead letter cannot be replayed: " + err.Error()}
	case errors.Is(err, replay.ErrNotDeadLetter):
		return &httpError{http.StatusConflict, "this record is not a dead letter: " + err.Error()}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &httpError{http.StatusGatewayTimeout, "the dead-letter topic did not answer in time, or the request ended"}
	}
	return err
}
