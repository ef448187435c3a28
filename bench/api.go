package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/accounts"
	"github.com/atlasstreams/atlas/views"
	"github.com/lovoo/goka"
)

// apiServer is the query API over a table of one large tenant, on a loopback listener.
type apiServer struct {
	srv    *httptest.Server
	tenant codecs.Tenant
	total  int
	cancel context.CancelFunc
	done   <-chan struct{} // closed once the view stopped
}

// startAPI writes n accounts of one tenant into a table topic and serves the API over an
// indexed view of it once the view has read the table.
func startAPI(s *stack, n int, logf func(string, ...any)) (*apiServer, error) {
	t := newTenant("GMS")
	err := s.writeAccounts(s.name(apiTable), t, n, func(id uint32) *accountpb.Account {
		return &accountpb.Account{Id: id, Name: "api-player-" + strconv.Itoa(int(id)), Tos: true}
	}, logf)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	ix := views.NewAccountIndex()
	v := s.opts.StartIndexedView(ctx, goka.Table(s.name(apiTable)), new(accounts.TableCodec), ix)
	src := views.FromRunningView(v)
	start := time.Now()
	for !v.Ready() {
		if time.Since(start) > 5*time.Minute {
			cancel()
			return nil, fmt.Errorf("API view not recovered after 5 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The list route reads the accounts table only; the other two sources are this same view
	// so that the API counts as ready.
	api := views.NewAPI(views.Indexed(src, ix), src, src)
	return &apiServer{srv: httptest.NewServer(api.Handler()), tenant: t, total: n, cancel: cancel, done: v.Done()}, nil
}

func (a *apiServer) close() {
	a.srv.Close()
	a.cancel()
	<-a.done
}

// get fetches one page and returns how long it took.
func (a *apiServer) get(c *http.Client, page int) (time.Duration, error) {
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/api/accounts?page[size]=50&page[number]="+strconv.Itoa(page), nil)
	req.Header.Set("TENANT_ID", a.tenant.ID.String())
	req.Header.Set("REGION", a.tenant.Region)
	req.Header.Set("MAJOR_VERSION", strconv.Itoa(int(a.tenant.Major)))
	req.Header.Set("MINOR_VERSION", strconv.Itoa(int(a.tenant.Minor)))
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET page %d: %s", page, resp.Status)
	}
	return time.Since(start), err
}

// clients runs k clients, each fetching count pages (the first page, or random ones) or until
// stop is closed, one every interval (0: back to back), and returns every latency.
func (a *apiServer) clients(k, count int, random bool, interval time.Duration, stop <-chan struct{}) ([]time.Duration, error) {
	pages := (a.total + 49) / 50
	var (
		mu    sync.Mutex
		lat   []time.Duration
		first error
		wg    sync.WaitGroup
	)
	for i := 0; i < k; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			c := &http.Client{Timeout: 30 * time.Second}
			rng := rand.New(rand.NewPCG(seed, 7))
			next := time.Now()
			for j := 0; j < count; j++ {
				page := 1
				if random {
					page = 1 + rng.IntN(pages)
				}
				d, err := a.get(c, page)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				lat = append(lat, d)
				mu.Unlock()
				if err != nil {
					return
				}
				next = next.Add(interval)
				select {
				case <-stop:
					return
				case <-time.After(time.Until(next)):
				}
			}
		}(uint64(i))
	}
	wg.Wait()
	return lat, first
}

// apiFigures measures the query API at scale: the first page's p99 with one client, the p99
// of random pages with 8 clients back to back, and the login rate while 8 clients each read a
// page ten times a second, against the login rate measured just before without them.
func apiFigures(s *stack, rep *Report, quietRate float64, z sizes, logf func(string, ...any)) error {
	a, err := startAPI(s, z.apiAccounts, logf)
	if err != nil {
		return err
	}
	defer a.close()
	first, err := a.clients(1, z.apiRequests, false, 0, nil)
	if err != nil {
		return err
	}
	p99 := ms(percentile(first, 99))
	rep.series["api first page"] = first
	rep.add(Figure{Name: "api_first_page_p99_ms", Value: p99, Unit: "ms", Baseline: 20, Against: "target 20 ms",
		Ratio: p99 / 20, Target: "p99 <= 20 ms", Met: p99 <= 20})
	random, err := a.clients(8, z.apiRequests/2, true, 0, nil)
	if err != nil {
		return err
	}
	p99 = ms(percentile(random, 99))
	rep.series["api 8 clients"] = random
	rep.add(Figure{Name: "api_concurrent_p99_ms", Value: p99, Unit: "ms (8 clients, random pages)", Baseline: 50, Against: "target 50 ms",
		Ratio: p99 / 50, Target: "p99 <= 50 ms", Met: p99 <= 50})

	n, logins := z.logins, newLoginLoad(s)
	if err := logins.create("api", n); err != nil {
		return err
	}
	stop := make(chan struct{})
	polled := make(chan error, 1)
	go func() {
		_, err := a.clients(8, 1<<30, true, 100*time.Millisecond, stop)
		polled <- err
	}()
	took, err := logins.login("api", n)
	close(stop)
	if perr := <-polled; err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	busyRate := float64(n) / took.Seconds()
	rep.add(Figure{Name: "api_login_rate", Value: busyRate, Unit: "logins/s (8 API clients at 10/s)", Baseline: quietRate, Against: "login_rate of this run",
		Ratio: busyRate / quietRate, Target: ">= 0.8", Met: busyRate/quietRate >= 0.8})
	return nil
}
