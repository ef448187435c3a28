package views

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
)

// Paging of GET /api/accounts.
const (
	DefaultPageSize = 50
	MaxPageSize     = 250
)

// MediaType is JSON:API's media type, which the clients of the older REST services expect.
const MediaType = "application/vnd.api+json"

//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3 document of the API (a copy).
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

// API serves the tables as JSON:API documents.
type API struct {
	accounts AccountSource
	names    ViewSource
	registry *ViewRegistry
	sources  []ViewSource
	mux      *http.ServeMux
	routes   []string
	// deadLetters serves the dead-letter routes (ServeOperator).
	deadLetters DeadLetters
	// Now is the clock that tells whether a ban is still in force.
	Now func() time.Time
	// Access authenticates and rate-limits requests (nil: open and unlimited, for tests).
	Access *Access
}

// NewAPI serves the accounts table (values *accountpb.Account), the names table
// (*accountpb.NameEntry) and the registry table (*registrypb.Entry).
func NewAPI(accounts AccountSource, names, registry ViewSource) *API {
	a := &API{
		accounts: accounts,
		names:    names,
		registry: NewRegistry(registry),
		sources:  []ViewSource{accounts, names, registry},
		mux:      http.NewServeMux(),
		Now:      time.Now,
	}
	a.handle("GET /api/accounts/{id}", a.getAccount)
	a.handle("GET /api/accounts", a.listAccounts)
	a.handle("GET /api/registry/{accountId}", a.getRegistry)
	a.routes = append(a.routes, "GET /api/openapi.json")
	a.mux.HandleFunc("GET /api/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPIDocument)
	})
	return a
}

// Handler is the HTTP handler of every route.
func (a *API) Handler() http.Handler { return a.mux }

// Routes are the mux patterns served ("GET /api/accounts/{id}", ...).
func (a *API) Routes() []string { return append([]string(nil), a.routes...) }

// Ready reports whether every view has been recovered.
func (a *API) Ready() bool {
	for _, s := range a.sources {
		if !s.Ready() {
			return false
		}
	}
	return true
}

// httpError is an answer other than 200; detail is safe to show to the caller.
type httpError struct {
	status int
	detail string
}

func (e *httpError) Error() string { return e.detail }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

// handle registers a tenant-scoped route: the tenant headers are read before anything else,
// and h answers a document or an error.
func (a *API) handle(pattern string, h func(r *http.Request, t codecs.Tenant) (any, error)) {
	a.global(pattern, func(r *http.Request, scope uuid.UUID) (any, error) {
		t, err := codecs.TenantFromText(r.Header.Get)
		if err != nil {
			return nil, &httpError{http.StatusBadRequest, err.Error()}
		}
		if scope != uuid.Nil && scope != t.ID {
			apiRefusals.WithLabelValues("forbidden_tenant").Inc()
			return nil, &httpError{http.StatusForbidden, "this token may not read that tenant"}
		}
		return h(r, t)
	})
}

// admit authenticates and rate-limits r; it answers the refusal itself and returns false
// when r may go no further, else the token's tenant scope (uuid.Nil: every tenant).
func (a *API) admit(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	if a.Access == nil {
		return uuid.Nil, true
	}
	if a.Access.Open() && !addressedByIP(r.Host) {
		// Without tokens (atlas dev) the API trusts whoever reaches it; a page of another
		// site could reach it too by rebinding its own name to 127.0.0.1. Such a request
		// names that site's host, never an address.
		writeError(w, r, &httpError{http.StatusForbidden, "an API without tokens answers only requests to an IP address or localhost"})
		return uuid.Nil, false
	}
	scope, err := a.Access.check(r)
	if err != nil {
		if errors.Is(err, errUnauthenticated) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="atlas"`)
			err = &httpError{http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer <token>)"}
		} else {
			w.Header().Set("Retry-After", a.Access.retryAfter())
		}
		writeError(w, r, err)
		return scope, false
	}
	return scope, true
}

// addressedByIP reports whether a Host header names an IP address or localhost.
func addressedByIP(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return host == "localhost" || net.ParseIP(host) != nil
}

// writeDocument answers doc, or err when there is one.
func writeDocument(w http.ResponseWriter, r *http.Request, doc any, err error) {
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(http.StatusOK)
	if err := json.NewEncoder(w).Encode(doc); err != nil {
		logrus.WithError(err).WithField("path", r.URL.Path).Debug("writing an answer failed")
	}
}

// checkReady is called once a request is known to be well-formed: until every view has read
// its whole table, a missing row proves nothing.
func (a *API) checkReady() error {
	if !a.Ready() {
		return ErrNotReady
	}
	return nil
}

type errorObject struct {
	Status string `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
}

type errorDocument struct {
	Errors []errorObject `json:"errors"`
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	switch {
	case errors.As(err, &he):
	case errors.Is(err, ErrNotReady):
		he = &httpError{http.StatusServiceUnavailable, "the tables are still being read from Kafka; retry shortly"}
		w.Header().Set("Retry-After", "1")
	default:
		// Internal detail goes to the log, not to the caller.
		logrus.WithError(err).WithField("path", r.URL.Path).Error("query failed")
		he = &httpError{http.StatusInternalServerError, "internal error"}
	}
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(he.status)
	_ = json.NewEncoder(w).Encode(errorDocument{Errors: []errorObject{{
		Status: strconv.Itoa(he.status), Title: http.StatusText(he.status), Detail: he.detail,
	}}})
}

// ---- documents ----

type resource struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Attributes any    `json:"attributes"`
}

type single struct {
	Data resource `json:"data"`
}

type listDocument struct {
	Data  []resource `json:"data"`
	Meta  listMeta   `json:"meta"`
	Links listLinks  `json:"links"`
}

type listMeta struct {
	Total int `json:"total"`
	Pages int `json:"pages"`
}

type listLinks struct {
	Self  string `json:"self"`
	First string `json:"first"`
	Last  string `json:"last"`
	Prev  string `json:"prev,omitempty"`
	Next  string `json:"next,omitempty"`
}

// accountAttributes are the account as the older REST services showed it, without the
// password hash, which never leaves the names table.
type accountAttributes struct {
	Name string `json:"name"`
	// LoggedIn is the account state: 0 not logged in, 1 logged in, 2 in transition.
	LoggedIn uint32   `json:"loggedIn"`
	Gender   uint32   `json:"gender"`
	TOS      bool     `json:"tos"`
	Banned   bool     `json:"banned"`
	Ban      *banInfo `json:"ban,omitempty"`
	// LastLogin is when the account last logged in at a login server (Unix ms; 0: never).
	LastLogin int64 `json:"lastLogin"`
}

// banInfo is the ban in force: reason code and end (Unix milliseconds, 0 = permanent).
type banInfo struct {
	Reason uint32 `json:"reason"`
	Until  int64  `json:"until"`
}

type registryAttributes struct {
	LoggedIn bool `json:"loggedIn"`
}

func (a *API) accountResource(id uint32, acc *accountpb.Account) resource {
	attrs := accountAttributes{
		Name:      acc.GetName(),
		LoggedIn:  model.State(acc),
		Gender:    acc.GetGender(),
		TOS:       acc.GetTos(),
		LastLogin: acc.GetLastLoginMs(),
	}
	// The same test as the account service's login: a ban with an end in the past is over.
	if b := acc.GetBan(); b != nil && (b.UntilMs == 0 || a.Now().UnixMilli() < b.UntilMs) {
		attrs.Banned = true
		attrs.Ban = &banInfo{Reason: b.Reason, Until: b.UntilMs}
	}
	return resource{Type: "accounts", ID: strconv.FormatUint(uint64(id), 10), Attributes: attrs}
}

// ---- handlers ----

// parseID reads an account id from a path: decimal, 1 to 4294967295 (ids start at 1).
func parseID(name, s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, badRequest("%s must be an account id: a decimal number from 1 to 4294967295", name)
	}
	return uint32(n), nil
}

func (a *API) getAccount(r *http.Request, t codecs.Tenant) (any, error) {
	id, err := parseID("id", r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if err := a.checkReady(); err != nil {
		return nil, err
	}
	acc, err := a.account(t, id)
	if err != nil {
		return nil, err
	}
	if acc == nil {
		return nil, notFound("no account %d in this tenant", id)
	}
	return single{Data: a.accountResource(id, acc)}, nil
}

func (a *API) account(t codecs.Tenant, id uint32) (*accountpb.Account, error) {
	v, err := a.accounts.Get(model.AccountKey(t, id))
	if err != nil || v == nil {
		return nil, err
	}
	acc, ok := v.(*accountpb.Account)
	if !ok {
		return nil, fmt.Errorf("accounts table: row is %T, want *accountpb.Account", v)
	}
	if acc.GetDeleted() {
		return nil, nil // deleted, its row waiting for removal: not there for anyone
	}
	return acc, nil
}

func (a *API) listAccounts(r *http.Request, t codecs.Tenant) (any, error) {
	q := r.URL.Query()
	if names, ok := q["name"]; ok {
		return a.accountByName(t, names)
	}
	number, size, err := pageParams(q)
	if err != nil {
		return nil, err
	}
	if err := a.checkReady(); err != nil {
		return nil, err
	}
	return a.page(t, number, size)
}

func (a *API) accountByName(t codecs.Tenant, names []string) (any, error) {
	if len(names) != 1 || names[0] == "" {
		return nil, badRequest("name must be given once and not be empty")
	}
	name := names[0]
	if err := a.checkReady(); err != nil {
		return nil, err
	}
	v, err := a.names.Get(model.NameKey(t, name))
	if err != nil {
		return nil, err
	}
	entry, ok := v.(*accountpb.NameEntry)
	if v != nil && !ok {
		return nil, fmt.Errorf("names table: row is %T, want *accountpb.NameEntry", v)
	}
	// A name whose registration still waits for its id has no account yet.
	if entry.GetAccountId() == 0 {
		return nil, notFound("no account named %q in this tenant", name)
	}
	acc, err := a.account(t, entry.AccountId)
	if err != nil {
		return nil, err
	}
	if acc == nil {
		// The names stage bound the id, the accounts stage has not created the row yet.
		return nil, notFound("no account named %q in this tenant", name)
	}
	return single{Data: a.accountResource(entry.AccountId, acc)}, nil
}

// pageParams reads page[number] (from 1) and page[size] (default 50, at most 250: a larger
// size is capped, as JSON:API lets a server do).
func pageParams(q url.Values) (number, size uint64, err error) {
	number, size = 1, DefaultPageSize
	if vs, ok := q["page[number]"]; ok {
		if len(vs) != 1 {
			return 0, 0, badRequest("page[number] must be given once")
		}
		if number, err = strconv.ParseUint(vs[0], 10, 32); err != nil || number == 0 {
			return 0, 0, badRequest("page[number] must be a whole number from 1 to 4294967295")
		}
	}
	if vs, ok := q["page[size]"]; ok {
		if len(vs) != 1 {
			return 0, 0, badRequest("page[size] must be given once")
		}
		if size, err = strconv.ParseUint(vs[0], 10, 32); err != nil || size == 0 {
			return 0, 0, badRequest("page[size] must be a whole number of at least 1 (at most %d is used)", MaxPageSize)
		}
		size = min(size, MaxPageSize)
	}
	return number, size, nil
}

// page lists one page of the tenant's accounts in id order, from the accounts index: the
// page's rows are read by key and nothing else of the tenant is touched, so a request costs
// the same at any page and any tenant size. A row removed since the index listed it is
// left out of the page.
func (a *API) page(t codecs.Tenant, number, size uint64) (any, error) {
	skip := (number - 1) * size // < 2^32 * 250: no overflow
	ids, total := a.accounts.Page(model.AccountKeyPrefix(t), skip, size)
	// A view that restarted meanwhile empties its index until it has read the table again.
	if err := a.checkReady(); err != nil {
		return nil, err
	}
	if total == 0 {
		// A tenant without any account is one this service never saw, or one whose every
		// account was deleted: either way there is nothing to list.
		return nil, notFound("unknown tenant: it has no accounts")
	}
	data := make([]resource, 0, len(ids))
	for _, id := range ids {
		acc, err := a.account(t, id)
		if err != nil {
			return nil, err
		}
		if acc != nil {
			data = append(data, a.accountResource(id, acc))
		}
	}
	pages := (total + size - 1) / size
	link := func(n uint64) string {
		return fmt.Sprintf("/api/accounts?page[number]=%d&page[size]=%d", n, size)
	}
	doc := listDocument{
		Data:  data,
		Meta:  listMeta{Total: int(total), Pages: int(pages)},
		Links: listLinks{Self: link(number), First: link(1), Last: link(pages)},
	}
	if number > 1 {
		doc.Links.Prev = link(min(number-1, pages))
	}
	if number < pages {
		doc.Links.Next = link(number + 1)
	}
	return doc, nil
}

func (a *API) getRegistry(r *http.Request, t codecs.Tenant) (any, error) {
	id, err := parseID("accountId", r.PathValue("accountId"))
	if err != nil {
		return nil, err
	}
	if err := a.checkReady(); err != nil {
		return nil, err
	}
	e, err := a.registry.Entry(t, id)
	if err != nil {
		return nil, err
	}
	if e == nil {
		// No row: not logged in, if the tenant is one this service knows at all. The registry
		// alone does not do, since it only has rows for accounts that logged in at least once.
		known, err := a.tenantKnown(t)
		if err != nil {
			return nil, err
		}
		if !known {
			return nil, notFound("unknown tenant: it has no accounts")
		}
	}
	return single{Data: resource{
		Type: "registry", ID: strconv.FormatUint(uint64(id), 10),
		Attributes: registryAttributes{LoggedIn: e.GetLoggedIn()},
	}}, nil
}

// tenantKnown reports whether the tenant has any account or any registry row. The registry
// counts too: it may be fed by another account service than ours.
func (a *API) tenantKnown(t codecs.Tenant) (bool, error) {
	prefix := model.AccountKeyPrefix(t)
	// The accounts index answers for the accounts table without opening an iterator on
	// every partition (which, on the in-memory store, sorts a partition's keys after a write).
	if _, n := a.accounts.Page(prefix, 0, 0); n > 0 {
		return true, nil
	}
	it, err := a.registry.src.IteratorWithRange(prefix, prefixLimit(prefix))
	if err != nil {
		return false, err
	}
	defer it.Release()
	found := it.Next()
	return found, it.Err()
}
