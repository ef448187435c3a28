package views

import (
	"encoding/json"
	"github.com/atlasstreams/atlas/processors/channel/directory"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/registry/registrypb"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/stretchr/testify/require"
)

// memSource is a ViewSource over a map, for tests of the HTTP layer alone.
type memSource struct {
	rows  map[string]interface{}
	ready bool
	reads int // rows read, by key or by an iterator
}

func (m *memSource) Ready() bool { return m.ready }

func (m *memSource) Get(key string) (interface{}, error) {
	if !m.ready {
		return nil, ErrNotReady
	}
	m.reads++
	return m.rows[key], nil
}

func (m *memSource) IteratorWithRange(start, limit string) (goka.Iterator, error) {
	if !m.ready {
		return nil, ErrNotReady
	}
	var keys []string
	for k := range m.rows {
		if k >= start && (limit == "" && strings.HasPrefix(k, start) || limit != "" && k < limit) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return &memIterator{m: m, keys: keys, pos: -1}, nil
}

type memIterator struct {
	m    *memSource
	keys []string
	pos  int
}

func (it *memIterator) Next() bool {
	it.pos++
	if it.pos < len(it.keys) {
		it.m.reads++
		return true
	}
	return false
}
func (it *memIterator) Err() error                  { return nil }
func (it *memIterator) Key() string                 { return it.keys[it.pos] }
func (it *memIterator) Value() (interface{}, error) { return it.m.rows[it.keys[it.pos]], nil }
func (it *memIterator) Release()                    { it.pos = len(it.keys) }
func (it *memIterator) Seek(string) bool            { panic("not used by the API") }

var unitTenant = codecs.Tenant{ID: uuid.MustParse("0d000000-0000-4000-8000-000000000001"), Region: "GMS", Major: 83, Minor: 1}

func tenantHeaders(t codecs.Tenant) http.Header {
	h := http.Header{}
	h.Set("TENANT_ID", t.ID.String())
	h.Set("REGION", t.Region)
	h.Set("MAJOR_VERSION", strconv.Itoa(int(t.Major)))
	h.Set("MINOR_VERSION", strconv.Itoa(int(t.Minor)))
	return h
}

func unitAPI(ready bool) (*API, []*memSource) {
	acc := &memSource{ready: ready, rows: map[string]interface{}{
		model.AccountKey(unitTenant, 7): &accountpb.Account{Id: 7, Name: "bob"},
	}}
	names := &memSource{ready: ready, rows: map[string]interface{}{
		model.NameKey(unitTenant, "bob"): &accountpb.NameEntry{Name: "bob", AccountId: 7, PasswordHash: []byte("$2a$04$hash")},
	}}
	reg := &memSource{ready: ready, rows: map[string]interface{}{
		model.AccountKey(unitTenant, 7): &registrypb.Entry{AccountId: 7, LoggedIn: true},
	}}
	ix := NewAccountIndex()
	for k := range acc.rows {
		ix.Observe(k, true)
	}
	a := NewAPI(Indexed(acc, ix), names, reg)
	a.ServeOperator(directory.New(time.Minute), &fakeLetters{})
	return a, []*memSource{acc, names, reg}
}

func serve(a *API, method, target string, h http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for k, v := range h {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	a.Handler().ServeHTTP(w, r)
	return w
}

func errorDetail(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	require.Equal(t, MediaType, w.Header().Get("Content-Type"))
	var doc errorDocument
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc), w.Body.String())
	require.Len(t, doc.Errors, 1)
	require.Equal(t, strconv.Itoa(w.Code), doc.Errors[0].Status)
	return doc.Errors[0].Detail
}

var tenantRoutes = []string{"/api/accounts/7", "/api/accounts?name=bob", "/api/accounts", "/api/registry/7"}

func TestTenantHeadersAreRequired(t *testing.T) {
	a, _ := unitAPI(true)
	cases := map[string]func(h http.Header){
		"none": func(h http.Header) {
			h.Del("TENANT_ID")
			h.Del("REGION")
			h.Del("MAJOR_VERSION")
			h.Del("MINOR_VERSION")
		},
		"no TENANT_ID":      func(h http.Header) { h.Del("TENANT_ID") },
		"short TENANT_ID":   func(h http.Header) { h.Set("TENANT_ID", "0d000000-0000-4000-8000") },
		"bad uuid":          func(h http.Header) { h.Set("TENANT_ID", "zz000000-0000-4000-8000-000000000001") },
		"no REGION":         func(h http.Header) { h.Del("REGION") },
		"bad REGION":        func(h http.Header) { h.Set("REGION", "G/S") },
		"no MAJOR_VERSION":  func(h http.Header) { h.Del("MAJOR_VERSION") },
		"hex MAJOR_VERSION": func(h http.Header) { h.Set("MAJOR_VERSION", "0x53") },
		"big MINOR_VERSION": func(h http.Header) { h.Set("MINOR_VERSION", "65536") },
	}
	for name, mutate := range cases {
		for _, target := range tenantRoutes {
			h := tenantHeaders(unitTenant)
			mutate(h)
			w := serve(a, http.MethodGet, target, h)
			require.Equal(t, http.StatusBadRequest, w.Code, "%s %s", name, target)
			require.NotEmpty(t, errorDetail(t, w))
		}
	}
}

func TestNotReadyIs503(t *testing.T) {
	for i := 0; i < 3; i++ {
		a, srcs := unitAPI(true)
		srcs[i].ready = false // any one view not recovered
		require.False(t, a.Ready())
		for _, target := range tenantRoutes {
			w := serve(a, http.MethodGet, target, tenantHeaders(unitTenant))
			require.Equal(t, http.StatusServiceUnavailable, w.Code, "view %d %s", i, target)
			require.Equal(t, "1", w.Header().Get("Retry-After"))
			errorDetail(t, w)
		}
		// A malformed request is still told so.
		w := serve(a, http.MethodGet, "/api/accounts/x", tenantHeaders(unitTenant))
		require.Equal(t, http.StatusBadRequest, w.Code)
	}
}

func TestAnswersNeverCarryThePasswordHash(t *testing.T) {
	a, _ := unitAPI(true)
	for _, target := range tenantRoutes {
		w := serve(a, http.MethodGet, target, tenantHeaders(unitTenant))
		require.Equal(t, http.StatusOK, w.Code, target)
		require.NotContains(t, w.Body.String(), "$2a$")
		require.NotContains(t, strings.ToLower(w.Body.String()), "password")
	}
}

func TestPrefixLimit(t *testing.T) {
	require.Equal(t, "t/a0", prefixLimit("t/a/"))
	require.Equal(t, "b", prefixLimit("a\xff"))
	require.Equal(t, "", prefixLimit("\xff\xff"))
	p := model.AccountKeyPrefix(unitTenant)
	require.Less(t, model.AccountKey(unitTenant, 4294967295), prefixLimit(p))
	require.Greater(t, model.AccountKey(unitTenant, 0), p)
}

// openAPIDoc is the part of the OpenAPI document the test walks.
type openAPIDoc struct {
	OpenAPI string `json:"openapi"`
	Paths   map[string]map[string]struct {
		Parameters []struct {
			Ref     string          `json:"$ref"`
			Name    string          `json:"name"`
			In      string          `json:"in"`
			Example json.RawMessage `json:"example"`
		} `json:"parameters"`
		Responses map[string]json.RawMessage `json:"responses"`
	} `json:"paths"`
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// The OpenAPI document and the mux agree: every documented path and method is routed by the
// mux to a handler (not the mux's own 404/405) and answers one of its documented statuses,
// and every route the mux serves is documented.
func TestOpenAPIMatchesTheMux(t *testing.T) {
	var doc openAPIDoc
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))

	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			method = strings.ToUpper(method)
			documented[method+" "+path] = true
			examples := map[string]string{}
			for _, p := range op.Parameters {
				if p.In == "path" {
					require.NotEmpty(t, p.Example, "%s %s: path parameter %s needs an example", method, path, p.Name)
					examples[p.Name] = strings.Trim(string(p.Example), `"`)
				}
			}
			target := pathParam.ReplaceAllStringFunc(path, func(m string) string {
				v, ok := examples[m[1:len(m)-1]]
				require.True(t, ok, "%s %s: %s is not a documented parameter", method, path, m)
				return v
			})
			for _, ready := range []bool{true, false} {
				a, _ := unitAPI(ready)
				r := httptest.NewRequest(method, target, nil)
				r.Header = tenantHeaders(unitTenant)
				_, pattern := a.mux.Handler(r)
				require.Equal(t, method+" "+path, pattern, "the mux routes %s %s to its documented route", method, target)
				w := httptest.NewRecorder()
				a.Handler().ServeHTTP(w, r)
				_, ok := op.Responses[strconv.Itoa(w.Code)]
				require.True(t, ok, "%s %s (ready %v) answered %d, which is not documented", method, target, ready, w.Code)

				// Without tenant headers, 400 is documented wherever it is answered.
				r = httptest.NewRequest(method, target, nil)
				w = httptest.NewRecorder()
				a.Handler().ServeHTTP(w, r)
				_, ok = op.Responses[strconv.Itoa(w.Code)]
				require.True(t, ok, "%s %s without tenant answered %d, which is not documented", method, target, w.Code)
			}
		}
	}
	a, _ := unitAPI(true)
	for _, route := range a.Routes() {
		require.True(t, documented[route], "route %q is not in the OpenAPI document", route)
	}
	require.Len(t, documented, len(a.Routes()))
}

// A page reads its own rows and nothing else of the tenant, however deep it is.
func TestAPageReadsOnlyItsRows(t *testing.T) {
	a, srcs := unitAPI(true)
	acc := srcs[0]
	ix := NewAccountIndex()
	for id := uint32(1); id <= 10000; id++ {
		key := model.AccountKey(unitTenant, id)
		acc.rows[key] = &accountpb.Account{Id: id, Name: "p" + strconv.Itoa(int(id))}
		ix.Observe(key, true)
	}
	a.accounts = Indexed(acc, ix)
	for _, number := range []int{1, 150, 200} {
		acc.reads = 0
		w := serve(a, http.MethodGet, "/api/accounts?page[size]=50&page[number]="+strconv.Itoa(number), tenantHeaders(unitTenant))
		require.Equal(t, http.StatusOK, w.Code)
		var doc struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
			Meta struct {
				Total int `json:"total"`
			} `json:"meta"`
		}
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc))
		require.Equal(t, 10000, doc.Meta.Total)
		require.Len(t, doc.Data, 50)
		require.Equal(t, strconv.Itoa((number-1)*50+1), doc.Data[0].ID)
		require.Equal(t, 50, acc.reads, "page %d", number)
	}
}
