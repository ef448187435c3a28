package views_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/accounts"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/account/names"
	"github.com/atlasstreams/atlas/processors/registry"
	"github.com/atlasstreams/atlas/processors/registry/registrypb"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/runtime/kafkatest"
	"github.com/atlasstreams/atlas/views"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/stretchr/testify/require"
)

// Three tenants that share names and ids: B differs from A by region only, C by uuid only.
// D has no data at all.
var (
	tenantA = codecs.Tenant{ID: uuid.MustParse("c0ffee00-0000-4000-8000-00000000000a"), Region: "GMS", Major: 83, Minor: 1}
	tenantB = codecs.Tenant{ID: tenantA.ID, Region: "JMS", Major: 83, Minor: 1}
	tenantC = codecs.Tenant{ID: uuid.MustParse("c0ffee00-0000-4000-8000-00000000000c"), Region: "GMS", Major: 83, Minor: 1}
	tenantD = codecs.Tenant{ID: uuid.MustParse("c0ffee00-0000-4000-8000-00000000000d"), Region: "GMS", Major: 83, Minor: 1}
)

// Tenant A has 120 accounts, ids 1 to 121 without 60 (ids may have gaps).
const accountsOfA = 120

func idsOfA() []uint32 {
	var ids []uint32
	for id := uint32(1); id <= accountsOfA+1; id++ {
		if id != 60 {
			ids = append(ids, id)
		}
	}
	return ids
}

// env is the one Kafka cluster of this file, with the tables written and the views running.
var env struct {
	release func()
	opts    runtime.Options
	views   *views.Views
	api     http.Handler
	err     error
}

func TestMain(m *testing.M) {
	ctx, cancel := context.WithCancel(context.Background())
	env.err = setup(ctx)
	code := m.Run()
	cancel()
	if env.views != nil {
		<-env.views.Done()
	}
	if env.release != nil {
		env.release()
	}
	os.Exit(code)
}

func setup(ctx context.Context) error {
	o, release, err := kafkatest.ForMain(3)
	if err != nil {
		return err
	}
	env.release = release
	env.opts = o
	if _, err := o.EnsureTopics(views.Topics(o)); err != nil {
		return err
	}
	if err := seed(o); err != nil {
		return err
	}
	// The views start after the rows are written: once recovered they hold every row.
	v, err := views.Start(ctx, o)
	if err != nil {
		return err
	}
	env.views = v
	env.api = v.API().Handler()
	deadline := time.Now().Add(60 * time.Second)
	for !v.Ready() {
		if time.Now().After(deadline) {
			return fmt.Errorf("views not ready after 60s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// emit writes table rows the way the owning groups do: the table codec's bytes, keyed by the
// table key, partitioned by Goka's hasher.
func emit(o runtime.Options, table goka.Table, c goka.Codec, rows map[string]interface{}) error {
	em, err := goka.NewEmitter(o.Brokers, goka.Stream(table), c, o.EmitterOptions("test-"+string(table))...)
	if err != nil {
		return err
	}
	var errs []error
	for k, v := range rows {
		if err := em.EmitSync(k, v); err != nil {
			errs = append(errs, err)
		}
	}
	if err := em.Finish(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

var (
	sessionLoggedIn   = &accountpb.Session{SessionId: make([]byte, 16), Issuer: model.IssuerLogin, State: model.StateLoggedIn}
	sessionTransition = &accountpb.Session{SessionId: []byte("0123456789abcdef"), Issuer: model.IssuerLogin, State: model.StateTransition}
)

func seed(o runtime.Options) error {
	acc := map[string]interface{}{}
	nm := map[string]interface{}{}
	add := func(t codecs.Tenant, a *accountpb.Account) {
		acc[model.AccountKey(t, a.Id)] = a
		nm[model.NameKey(t, a.Name)] = &accountpb.NameEntry{Name: a.Name, AccountId: a.Id, PasswordHash: []byte("$2a$04$secrethashsecrethashsecrethashsecrethashsecretha")}
	}
	for _, id := range idsOfA() {
		a := &accountpb.Account{Id: id, Name: fmt.Sprintf("user%03d", id)}
		switch id {
		case 1:
			a.Name, a.Sessions = "bob", []*accountpb.Session{sessionLoggedIn}
		case 2:
			a.Name, a.Sessions = "Alice", []*accountpb.Session{sessionTransition}
		case 3:
			a.Name, a.Ban = "banned", &accountpb.BanState{Reason: 2}
		case 4:
			a.Name, a.Ban = "pastban", &accountpb.BanState{Reason: 3, UntilMs: 1000}
		}
		add(tenantA, a)
	}
	add(tenantB, &accountpb.Account{Id: 1, Name: "carol", Gender: 10, Tos: true})
	add(tenantB, &accountpb.Account{Id: 2, Name: "dave"})
	add(tenantB, &accountpb.Account{Id: 3, Name: "bob", Sessions: []*accountpb.Session{sessionTransition}})
	add(tenantC, &accountpb.Account{Id: 1, Name: "BOB"})
	// A registration still waiting for its id, and one whose account row is not written yet.
	nm[model.NameKey(tenantA, "pending")] = &accountpb.NameEntry{Name: "pending"}
	nm[model.NameKey(tenantA, "halfway")] = &accountpb.NameEntry{Name: "halfway", AccountId: 500}

	reg := map[string]interface{}{
		model.AccountKey(tenantA, 1): &registrypb.Entry{AccountId: 1, Name: "bob", LoggedIn: true},
		model.AccountKey(tenantB, 3): &registrypb.Entry{AccountId: 3, Name: "bob", LoggedIn: false},
	}
	if err := emit(o, atlas.AccountsTable, new(accounts.TableCodec), acc); err != nil {
		return err
	}
	if err := emit(o, atlas.AccountNamesTable, new(names.TableCodec), nm); err != nil {
		return err
	}
	return emit(o, atlas.RegistryTable, new(registry.TableCodec), reg)
}

func requireEnv(t *testing.T) {
	t.Helper()
	require.NoError(t, env.err, "kfake setup")
}

// ---- HTTP helpers ----

type attributes struct {
	Name     string `json:"name"`
	LoggedIn uint32 `json:"loggedIn"`
	Gender   uint32 `json:"gender"`
	TOS      bool   `json:"tos"`
	Banned   bool   `json:"banned"`
	Ban      *struct {
		Reason uint32 `json:"reason"`
		Until  int64  `json:"until"`
	} `json:"ban"`
}

type accountRes struct {
	Type       string     `json:"type"`
	ID         string     `json:"id"`
	Attributes attributes `json:"attributes"`
}

type listDoc struct {
	Data []accountRes `json:"data"`
	Meta struct {
		Total int `json:"total"`
		Pages int `json:"pages"`
	} `json:"meta"`
	Links map[string]string `json:"links"`
}

func get(t *testing.T, tn codecs.Tenant, target string, out any) int {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Header.Set("TENANT_ID", tn.ID.String())
	r.Header.Set("REGION", tn.Region)
	r.Header.Set("MAJOR_VERSION", strconv.Itoa(int(tn.Major)))
	r.Header.Set("MINOR_VERSION", strconv.Itoa(int(tn.Minor)))
	w := httptest.NewRecorder()
	env.api.ServeHTTP(w, r)
	require.Equal(t, views.MediaType, w.Header().Get("Content-Type"))
	require.NotContains(t, w.Body.String(), "$2a$", "no answer carries a password hash")
	if w.Code == http.StatusOK && out != nil {
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), out), w.Body.String())
	}
	if w.Code != http.StatusOK {
		require.Contains(t, w.Body.String(), `"errors":[{"status":"`+strconv.Itoa(w.Code)+`"`)
	}
	return w.Code
}

func getAccount(t *testing.T, tn codecs.Tenant, target string) (int, accountRes) {
	t.Helper()
	var doc struct {
		Data accountRes `json:"data"`
	}
	code := get(t, tn, target, &doc)
	if code == http.StatusOK {
		require.Equal(t, "accounts", doc.Data.Type)
	}
	return code, doc.Data
}

// ---- tests ----

func TestAccountByID(t *testing.T) {
	requireEnv(t)
	code, a := getAccount(t, tenantA, "/api/accounts/1")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, accountRes{Type: "accounts", ID: "1", Attributes: attributes{Name: "bob", LoggedIn: 1}}, a)

	_, a = getAccount(t, tenantA, "/api/accounts/2")
	require.EqualValues(t, 2, a.Attributes.LoggedIn, "in transition")

	_, a = getAccount(t, tenantA, "/api/accounts/3")
	require.True(t, a.Attributes.Banned)
	require.EqualValues(t, 2, a.Attributes.Ban.Reason)
	require.Zero(t, a.Attributes.Ban.Until)
	_, a = getAccount(t, tenantA, "/api/accounts/4")
	require.False(t, a.Attributes.Banned, "a ban whose end passed is over")
	require.Nil(t, a.Attributes.Ban)

	_, a = getAccount(t, tenantA, "/api/accounts/0000000121")
	require.Equal(t, "121", a.ID)

	for _, id := range []string{"60", "122", "4294967295"} {
		code, _ = getAccount(t, tenantA, "/api/accounts/"+id)
		require.Equal(t, http.StatusNotFound, code, id)
	}
	for _, id := range []string{"0", "-1", "x", "4294967296", "1.5", "%20"} {
		code, _ = getAccount(t, tenantA, "/api/accounts/"+id)
		require.Equal(t, http.StatusBadRequest, code, id)
	}
}

func TestAccountByName(t *testing.T) {
	requireEnv(t)
	for _, n := range []string{"bob", "BOB", "Bob"} {
		code, a := getAccount(t, tenantA, "/api/accounts?name="+n)
		require.Equal(t, http.StatusOK, code, n)
		require.Equal(t, "1", a.ID)
		require.Equal(t, "bob", a.Attributes.Name, "the name as registered")
	}
	code, a := getAccount(t, tenantA, "/api/accounts?name=alice&page[number]=9")
	require.Equal(t, http.StatusOK, code, "page parameters do not apply to a name")
	require.Equal(t, "Alice", a.Attributes.Name)

	for _, n := range []string{"nobody", "pending", "halfway", "user060"} {
		code, _ = getAccount(t, tenantA, "/api/accounts?name="+n)
		require.Equal(t, http.StatusNotFound, code, n)
	}
	code, _ = getAccount(t, tenantA, "/api/accounts?name=")
	require.Equal(t, http.StatusBadRequest, code)
	code, _ = getAccount(t, tenantA, "/api/accounts?name=bob&name=Alice")
	require.Equal(t, http.StatusBadRequest, code)
}

func TestPaging(t *testing.T) {
	requireEnv(t)
	want := idsOfA()
	var got []uint32
	for n := 1; n <= 3; n++ {
		var doc listDoc
		require.Equal(t, http.StatusOK, get(t, tenantA, fmt.Sprintf("/api/accounts?page[number]=%d", n), &doc))
		require.Equal(t, accountsOfA, doc.Meta.Total)
		require.Equal(t, 3, doc.Meta.Pages)
		if n < 3 {
			require.Len(t, doc.Data, views.DefaultPageSize)
			require.Equal(t, fmt.Sprintf("/api/accounts?page[number]=%d&page[size]=50", n+1), doc.Links["next"])
		} else {
			require.Len(t, doc.Data, accountsOfA-2*views.DefaultPageSize, "the last page holds the rest")
			require.Empty(t, doc.Links["next"])
		}
		if n > 1 {
			require.Equal(t, fmt.Sprintf("/api/accounts?page[number]=%d&page[size]=50", n-1), doc.Links["prev"])
		}
		require.Equal(t, "/api/accounts?page[number]=3&page[size]=50", doc.Links["last"])
		for _, r := range doc.Data {
			id, err := strconv.ParseUint(r.ID, 10, 32)
			require.NoError(t, err)
			got = append(got, uint32(id))
		}
	}
	require.Equal(t, want, got, "every account once, in id order across partitions and pages")

	// Same request, same page: the order is stable.
	var p1, p1again listDoc
	get(t, tenantA, "/api/accounts?page[size]=7&page[number]=5", &p1)
	get(t, tenantA, "/api/accounts?page[size]=7&page[number]=5", &p1again)
	require.Equal(t, p1, p1again)
	require.Equal(t, "29", p1.Data[0].ID)
	require.Equal(t, "35", p1.Data[6].ID)

	var all listDoc
	require.Equal(t, http.StatusOK, get(t, tenantA, "/api/accounts?page[size]=100000", &all))
	require.Len(t, all.Data, accountsOfA, "a size above the cap is served capped (here all 120 fit)")
	var capped listDoc
	get(t, tenantA, "/api/accounts?page[size]=251&page[number]=1", &capped)
	require.Equal(t, "/api/accounts?page[number]=1&page[size]=250", capped.Links["self"])

	var beyond listDoc
	require.Equal(t, http.StatusOK, get(t, tenantA, "/api/accounts?page[number]=4", &beyond))
	require.Empty(t, beyond.Data)
	require.Equal(t, accountsOfA, beyond.Meta.Total)

	for _, q := range []string{"page[number]=0", "page[number]=-1", "page[number]=x", "page[number]=",
		"page[size]=0", "page[size]=abc", "page[number]=1&page[number]=2", "page[number]=99999999999"} {
		require.Equal(t, http.StatusBadRequest, get(t, tenantA, "/api/accounts?"+q, nil), q)
	}
}

func TestTenantsAreIsolated(t *testing.T) {
	requireEnv(t)
	byID := map[codecs.Tenant]string{tenantA: "bob", tenantB: "carol", tenantC: "BOB"}
	for tn, name := range byID {
		code, a := getAccount(t, tn, "/api/accounts/1")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, name, a.Attributes.Name, tn.String())
	}
	_, a := getAccount(t, tenantB, "/api/accounts/1")
	require.True(t, a.Attributes.TOS)
	require.EqualValues(t, 10, a.Attributes.Gender)

	byName := map[codecs.Tenant]string{tenantA: "1", tenantB: "3", tenantC: "1"}
	for tn, id := range byName {
		code, a := getAccount(t, tn, "/api/accounts?name=bob")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, id, a.ID, tn.String())
	}
	code, _ := getAccount(t, tenantB, "/api/accounts/4")
	require.Equal(t, http.StatusNotFound, code, "A has an account 4, B has not")
	code, _ = getAccount(t, tenantC, "/api/accounts?name=Alice")
	require.Equal(t, http.StatusNotFound, code)

	var b listDoc
	require.Equal(t, http.StatusOK, get(t, tenantB, "/api/accounts", &b))
	require.Equal(t, 3, b.Meta.Total)
	require.Equal(t, []string{"carol", "dave", "bob"}, []string{b.Data[0].Attributes.Name, b.Data[1].Attributes.Name, b.Data[2].Attributes.Name})

	// A tenant without data is unknown everywhere.
	for _, target := range []string{"/api/accounts/1", "/api/accounts?name=bob", "/api/accounts", "/api/registry/1"} {
		require.Equal(t, http.StatusNotFound, get(t, tenantD, target, nil), target)
	}
}

func TestRegistryEndpoint(t *testing.T) {
	requireEnv(t)
	loggedIn := func(tn codecs.Tenant, id string) (int, bool) {
		var doc struct {
			Data struct {
				Type       string `json:"type"`
				ID         string `json:"id"`
				Attributes struct {
					LoggedIn *bool `json:"loggedIn"`
				} `json:"attributes"`
			} `json:"data"`
		}
		code := get(t, tn, "/api/registry/"+id, &doc)
		if code != http.StatusOK {
			return code, false
		}
		require.Equal(t, "registry", doc.Data.Type)
		require.Equal(t, id, doc.Data.ID)
		require.NotNil(t, doc.Data.Attributes.LoggedIn)
		return code, *doc.Data.Attributes.LoggedIn
	}
	cases := []struct {
		tn   codecs.Tenant
		id   string
		code int
		in   bool
	}{
		{tenantA, "1", 200, true},
		{tenantA, "2", 200, false}, // no row: not logged in
		{tenantB, "1", 200, false},
		{tenantB, "3", 200, false}, // logged out row
		{tenantC, "1", 200, false}, // tenant known from its accounts
		{tenantD, "1", 404, false},
		{tenantA, "0", 400, false},
		{tenantA, "abc", 400, false},
	}
	for _, c := range cases {
		code, in := loggedIn(c.tn, c.id)
		require.Equal(t, c.code, code, "%s %s", c.tn.Region, c.id)
		require.Equal(t, c.in, in, "%s %s", c.tn.Region, c.id)
	}

	reg := env.views.AccountRegistry()
	var r views.Registry = reg
	in, err := r.LoggedIn(tenantA, 1)
	require.NoError(t, err)
	require.True(t, in)
	in, err = r.LoggedIn(tenantC, 1)
	require.NoError(t, err)
	require.False(t, in)
}

// Rows written after recovery reach the views as they are written.
func TestViewsFollowTheTables(t *testing.T) {
	requireEnv(t)
	require.NoError(t, emit(env.opts, atlas.AccountsTable, new(accounts.TableCodec), map[string]interface{}{
		model.AccountKey(tenantC, 2): &accountpb.Account{Id: 2, Name: "late"},
	}))
	require.NoError(t, emit(env.opts, atlas.AccountNamesTable, new(names.TableCodec), map[string]interface{}{
		model.NameKey(tenantC, "late"): &accountpb.NameEntry{Name: "late", AccountId: 2},
	}))
	require.Eventually(t, func() bool {
		code, a := getAccount(t, tenantC, "/api/accounts?name=LATE")
		return code == http.StatusOK && a.ID == "2"
	}, 30*time.Second, 10*time.Millisecond)
	var c listDoc
	require.Equal(t, http.StatusOK, get(t, tenantC, "/api/accounts", &c))
	require.Equal(t, 2, c.Meta.Total)
	require.True(t, strings.HasPrefix(c.Links["self"], "/api/accounts?"))
}

// Before a view has read its table the API answers 503, and once it has, it answers.
func TestNotReadyUntilRecovered(t *testing.T) {
	requireEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A table whose topic does not exist yet: the supervised view keeps retrying.
	table := goka.Table("views-test-late-table")
	ix := views.NewAccountIndex()
	late := env.opts.StartIndexedView(ctx, table, new(accounts.TableCodec), ix)
	api := views.NewAPI(views.Indexed(views.FromRunningView(late), ix), views.FromRunningView(env.views.Names), views.FromRunningView(env.views.Registry))
	status := func(target string) int {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.Header.Set("TENANT_ID", tenantA.ID.String())
		r.Header.Set("REGION", tenantA.Region)
		r.Header.Set("MAJOR_VERSION", "83")
		r.Header.Set("MINOR_VERSION", "1")
		w := httptest.NewRecorder()
		api.Handler().ServeHTTP(w, r)
		return w.Code
	}
	for _, target := range []string{"/api/accounts/1", "/api/accounts?name=bob", "/api/accounts", "/api/registry/1"} {
		require.Equal(t, http.StatusServiceUnavailable, status(target), target)
	}
	_, err := env.opts.EnsureTopics(env.opts.Tables(table))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return status("/api/accounts/1") == http.StatusNotFound }, 30*time.Second, 20*time.Millisecond,
		"the empty table is read and the account is simply not there")
	cancel()
	<-late.Done()
}
