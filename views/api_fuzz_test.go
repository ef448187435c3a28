package views

import (
	"net/http"

	"github.com/atlasstreams/atlas/codecs"
	"net/url"
	"strings"
	"testing"
)

// FuzzAPI sends arbitrary paths, queries and tenant headers to the query API: it must never
// panic or fail with a 5xx (the views are ready), never answer another tenant's row, and never
// show a password hash.
func FuzzAPI(f *testing.F) {
	for _, route := range append(tenantRoutes, "/api/openapi.json", "/api/accounts?page[number]=2&page[size]=1") {
		f.Add(route, unitTenant.ID.String(), "GMS", "83", "1")
	}
	f.Add("/api/accounts/4294967296", unitTenant.ID.String(), "GMS", "83", "1")
	f.Add("/api/accounts?page[size]=-1", unitTenant.ID.String(), "GMS", "x", "1")
	f.Add("/api/registry/0", "0d000000-0000-4000-8000-000000000002", "JMS", "65535", "0")
	f.Add("/api/accounts?name=%00%ff", unitTenant.ID.String(), "G/S", "83", "1")
	a, _ := unitAPI(true)
	f.Fuzz(func(t *testing.T, target, tenantID, region, major, minor string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(u.Path, "/") || strings.ContainsAny(u.RequestURI(), " \t\r\n") {
			return // not a request a client can send
		}
		h := http.Header{}
		for k, v := range map[string]string{"TENANT_ID": tenantID, "REGION": region, "MAJOR_VERSION": major, "MINOR_VERSION": minor} {
			if strings.ContainsAny(v, "\r\n\x00") {
				return // not a header value a client can send
			}
			h.Set(k, v)
		}
		w := serve(a, http.MethodGet, u.RequestURI(), h)
		if w.Code >= 500 {
			t.Fatalf("%s: %d %s", target, w.Code, w.Body)
		}
		body := w.Body.String()
		if strings.Contains(body, "$2a$") {
			t.Fatalf("%s: a password hash in the answer: %s", target, body)
		}
		asked, err := codecs.TenantFromText(h.Get)
		if w.Code == http.StatusOK && strings.Contains(body, `"name":"bob"`) && (err != nil || asked != unitTenant) {
			t.Fatalf("%s: tenant %q sees tenant %s's account: %s", target, tenantID, unitTenant.ID, body)
		}
	})
}
