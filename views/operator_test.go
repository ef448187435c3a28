package views

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/channel/directory"
	"github.com/atlasstreams/atlas/processors/deadletter/replay"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fakeLetters is a dead-letter topic with one letter, at 0/0; its replays are recorded.
type fakeLetters struct {
	replayed []replay.Position
	filters  []replay.Filter
}

var fakeLetter = replay.Entry{Partition: 0, Offset: 0, Topic: "COMMAND_TOPIC_CREATE_ACCOUNT", Reason: "invalid: name", Key: "7"}

func (f *fakeLetters) Newest(_ context.Context, filter replay.Filter, n int) ([]replay.Entry, error) {
	f.filters = append(f.filters, filter)
	return []replay.Entry{fakeLetter}, nil
}

func (f *fakeLetters) Show(_ context.Context, p replay.Position) (replay.Shown, error) {
	if p != (replay.Position{}) {
		return replay.Shown{}, replay.ErrNotFound
	}
	return replay.Shown{Entry: fakeLetter, Headers: map[string]string{}}, nil
}

func (f *fakeLetters) Replay(_ context.Context, p replay.Position) (replay.Result, error) {
	if p != (replay.Position{}) {
		return replay.Result{}, replay.ErrNotFound
	}
	f.replayed = append(f.replayed, p)
	return replay.Result{Topic: fakeLetter.Topic, Partition: 3, Offset: 12}, nil
}

func letters(a *API) *fakeLetters {
	return a.deadLetters.(*fakeLetters)
}

// Dead letters belong to no tenant that can be trusted: only a token of every tenant reads
// or replays them, and a replay must be a JSON POST (no form of another site can send one).
func TestDeadLetterRoutesAreForTokensOfEveryTenant(t *testing.T) {
	a := guarded(t, 1000, 1000)
	json := http.Header{"Content-Type": {"application/json"}}
	for _, c := range []struct {
		method, target, token string
		header                http.Header
		want                  int
	}{
		{http.MethodGet, "/api/deadletters", "", nil, http.StatusUnauthorized},
		{http.MethodGet, "/api/deadletters", oneTenant, nil, http.StatusForbidden},
		{http.MethodGet, "/api/deadletters/0/0", oneTenant, nil, http.StatusForbidden},
		{http.MethodPost, "/api/deadletters/0/0/replay", oneTenant, json, http.StatusForbidden},
		{http.MethodGet, "/api/deadletters?limit=0", allTenants, nil, http.StatusBadRequest},
		{http.MethodGet, "/api/deadletters/0/x", allTenants, nil, http.StatusBadRequest},
		{http.MethodGet, "/api/deadletters/0/9", allTenants, nil, http.StatusNotFound},
		{http.MethodPost, "/api/deadletters/0/0/replay", allTenants, nil, http.StatusUnsupportedMediaType},
		{http.MethodPost, "/api/deadletters/0/0/replay", allTenants, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, http.StatusUnsupportedMediaType},
		{http.MethodGet, "/api/deadletters?topic=X&reason=name", allTenants, nil, http.StatusOK},
		{http.MethodGet, "/api/deadletters/0/0", allTenants, nil, http.StatusOK},
		{http.MethodPost, "/api/deadletters/0/0/replay", allTenants, json, http.StatusOK},
	} {
		h := http.Header{}
		if c.token != "" {
			h.Set("Authorization", "Bearer "+c.token)
		}
		for k, v := range c.header {
			h[k] = v
		}
		w := serve(a, c.method, c.target, h)
		require.Equal(t, c.want, w.Code, "%s %s: %s", c.method, c.target, w.Body)
	}
	require.Equal(t, []replay.Position{{}}, letters(a).replayed, "only the admitted JSON POST replayed")
	require.Equal(t, []replay.Filter{{Topic: "X", Reason: "name"}}, letters(a).filters)
}

// The tenants list: every tenant for a token of every tenant, its own for a scoped token.
func TestTenantsListIsScopedByToken(t *testing.T) {
	a := guarded(t, 1000, 1000)
	other := codecs.Tenant{ID: uuid.New(), Region: "JMS", Major: 185, Minor: 1}
	acc := a.accounts.(indexedSource)
	acc.ViewSource.(*memSource).rows[model.AccountKey(other, 1)] = &accountpb.Account{Id: 1, Name: "x"}
	acc.ix.Observe(model.AccountKey(other, 1), true)
	acc.ix.Observe(model.AccountKey(other, 2), true)

	ids := func(token string) map[string]uint64 {
		w := serve(a, http.MethodGet, "/api/tenants", http.Header{"Authorization": {"Bearer " + token}})
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		var doc struct {
			Data []struct {
				ID         string `json:"id"`
				Attributes struct {
					TenantID string `json:"tenantId"`
					Region   string `json:"region"`
					Accounts uint64 `json:"accounts"`
				} `json:"attributes"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc))
		out := map[string]uint64{}
		for _, d := range doc.Data {
			out[d.Attributes.TenantID+"/"+d.Attributes.Region] = d.Attributes.Accounts
			require.True(t, strings.HasPrefix(d.ID, d.Attributes.TenantID+":"+d.Attributes.Region+":"), d.ID)
		}
		return out
	}
	require.Equal(t, map[string]uint64{unitTenant.ID.String() + "/GMS": 1, other.ID.String() + "/JMS": 2}, ids(allTenants))
	require.Equal(t, map[string]uint64{unitTenant.ID.String() + "/GMS": 1}, ids(oneTenant))
	w := serve(a, http.MethodGet, "/api/tenants", nil)
	require.Equal(t, http.StatusUnauthorized, w.Code)
}

// Channels are read with the tenant headers, like accounts: another tenant's are not there.
func TestChannelsAreTheTenantsOwn(t *testing.T) {
	dir := directory.New(time.Minute)
	a, _ := unitAPI(true)
	a.mux = http.NewServeMux()
	a.routes = nil
	a.ServeOperator(dir, &fakeLetters{})
	other := codecs.Tenant{ID: uuid.New(), Region: "JMS", Major: 185, Minor: 1}
	for i, tenant := range []codecs.Tenant{unitTenant, other, other} {
		r := &kgo.Record{Topic: string(atlas.CommandTopicChannelStatus), Timestamp: time.Now(),
			Value: fmt.Appendf(nil, `{"worldId":0,"channelId":%d,"ipAddress":"10.0.0.1","port":7575,"currentCapacity":0,"maxCapacity":100,"type":"HEARTBEAT"}`, i+1)}
		for k, v := range tenant.Headers() {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: v})
		}
		dir.Observe(r)
	}
	ids := func(tenant codecs.Tenant) []string {
		w := serve(a, http.MethodGet, "/api/channels", tenantHeaders(tenant))
		require.Equal(t, http.StatusOK, w.Code)
		var doc struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc))
		var out []string
		for _, d := range doc.Data {
			out = append(out, d.ID)
		}
		return out
	}
	require.Equal(t, []string{"0-1"}, ids(unitTenant))
	require.Equal(t, []string{"0-2", "0-3"}, ids(other))
	w := serve(a, http.MethodGet, "/api/channels", nil)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.True(t, strings.Contains(w.Body.String(), "TENANT_ID"), w.Body.String())
}

// An API without tokens (atlas dev) answers only requests addressed to an IP or localhost:
// a page that rebinds its own name to 127.0.0.1 names its host, and is refused.
func TestAnOpenAPIRefusesRequestsToOtherHosts(t *testing.T) {
	a, _ := unitAPI(true)
	a.Access = NewAccess(nil, 1000, 1000)
	for host, want := range map[string]int{
		"127.0.0.1:8080": http.StatusOK, "localhost:8080": http.StatusOK, "[::1]:8080": http.StatusOK, "10.1.2.3": http.StatusOK,
		"rebound.example:8080": http.StatusForbidden, "localhost.example": http.StatusForbidden,
	} {
		r := httptest.NewRequest(http.MethodGet, "/api/accounts/7", nil)
		r.Header = tenantHeaders(unitTenant)
		r.Host = host
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, r)
		require.Equal(t, want, w.Code, host)
	}
	// With tokens, the token is the guard: any host name is fine.
	g := guarded(t, 1000, 1000)
	r := httptest.NewRequest(http.MethodGet, "/api/accounts/7", nil)
	r.Header = withToken(allTenants)
	r.Host = "atlas-api.example"
	w := httptest.NewRecorder()
	g.Handler().ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code)
}
