package refmodel_test

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/atlasstreams/atlas/chaos/refmodel"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accounttest"
	"github.com/atlasstreams/atlas/processors/account/ingress"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// byTopic renders events per topic in order: the two topics are not ordered with respect to
// each other.
func byTopic(evs []refmodel.Event) string {
	var status, session []string
	for _, e := range evs {
		if e.Topic == refmodel.Status {
			status = append(status, e.JSON)
		} else {
			session = append(session, e.JSON)
		}
	}
	return strings.Join(status, "\n") + "\n--\n" + strings.Join(session, "\n")
}

// Random command sequences go through the real groups (in Goka's tester) and through the
// reference model; after every command both must have emitted the same events, byte for
// byte, and at the end agree on every account.
func TestPipelineAgreesWithTheReferenceModel(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { agree(t, seed, 400) })
	}
}

func agree(t *testing.T, seed int64, steps int) {
	rng := rand.New(rand.NewSource(seed))
	h := accounttest.New(t, func(c *model.Config) { c.MaxFailedLogins = 3 })
	rules := refmodel.DefaultRules()
	rules.MaxFailedLogins = 3
	m := refmodel.New(rules)

	tenants := []codecs.Tenant{accounttest.DefaultTenant,
		{ID: uuid.MustParse("22222222-2222-4333-8444-555555555555"), Region: "JMS", Major: 185, Minor: 1}}
	names := []string{"ann", "Bob", "cy", "dee", "eve"}
	passwords := map[string]string{}
	sids := []uuid.UUID{uuid.Nil}
	for i := 0; i < 5; i++ {
		sids = append(sids, uuid.MustParse(fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1)))
	}
	issuers := []string{"LOGIN", "CHANNEL", "INTERNAL", "channel"}

	for step := 0; step < steps; step++ {
		tn := tenants[rng.Intn(len(tenants))]
		h.Tenant = tn
		mt := refmodel.Tenant{ID: tn.ID.String(), Region: tn.Region, Major: int(tn.Major)}
		now := h.Now.UnixMilli()
		name := names[rng.Intn(len(names))]
		pw := passwords[tn.ID.String()+strings.ToLower(name)]
		if pw == "" || rng.Intn(4) == 0 {
			pw = fmt.Sprint("pw", rng.Intn(2))
		}
		sid := sids[rng.Intn(len(sids))]
		id := uint32(rng.Intn(4)) // 0 is never an account
		issuer := issuers[rng.Intn(len(issuers))]
		var want []refmodel.Event
		var what string
		newID := func(got []accounttest.Event) uint32 {
			for _, e := range got {
				if e.Status != nil && e.Status.Status == "CREATED" {
					passwords[tn.ID.String()+strings.ToLower(e.Status.Name)] = pw
					return e.Status.AccountID
				}
			}
			return 0
		}
		var got []accounttest.Event
		switch op := rng.Intn(100); {
		case op < 12:
			what = "create " + name
			h.Create(name, pw)
			got = h.Events()
			want = m.Create(mt, name, pw, newID(got), now)
		case op < 32:
			what = "login " + name
			h.Login(sid, name, pw)
			got = h.Events()
			want = m.Login(mt, sid.String(), name, pw, "10.0.0.7", newID(got), now)
		case op < 70:
			state := rng.Intn(4)
			what = fmt.Sprintf("progress %d %s %d", id, issuer, state)
			h.Progress(sid, id, issuer, uint8(state), `{"characterId":7}`)
			got = h.Events()
			want = m.Progress(mt, sid.String(), id, issuer, state, `{"characterId":7}`, now)
		case op < 82:
			what = fmt.Sprintf("logout %d %s", id, issuer)
			h.Logout(sid, id, issuer)
			got = h.Events()
			want = m.Logout(mt, sid.String(), id, issuer, now)
		case op < 85:
			id = 1 + id%3 // an operator command names an account: 0 is refused (dead-letter)
			until := int64(0)
			if rng.Intn(2) == 0 {
				until = now + 3000
			}
			what = fmt.Sprintf("ban %d", id)
			h.Admin(ingress.AdminBan, id, ingress.BanBody{Reason: 2, Until: uint64(until)})
			got = h.Events()
			m.Ban(mt, id, 2, until)
		case op < 87:
			id = 1 + id%3
			what = fmt.Sprintf("unban %d", id)
			h.Admin(ingress.AdminUnban, id, struct{}{})
			got = h.Events()
			m.Unban(mt, id)
		case op < 89:
			id = 1 + id%3
			what = fmt.Sprintf("tos %d", id)
			h.Admin(ingress.AdminSetTos, id, ingress.SetTosBody{Accepted: true})
			got = h.Events()
			m.SetTos(mt, id, true)
		default:
			d := time.Duration(rng.Intn(8)) * time.Second
			what = fmt.Sprintf("advance %s and tick", d)
			h.Advance(d)
			h.Tick()
			got = h.Events()
			for _, t2 := range tenants {
				mt2 := refmodel.Tenant{ID: t2.ID.String(), Region: t2.Region, Major: int(t2.Major)}
				ids := make([]uint32, 0)
				for aid := range m.Accounts(mt2) {
					ids = append(ids, aid)
				}
				sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
				for _, aid := range ids {
					want = append(want, m.Expire(mt2, aid, h.Now.UnixMilli())...)
				}
			}
		}
		var gotEvents []refmodel.Event
		for _, e := range got {
			topic := refmodel.Session
			if e.Status != nil {
				topic = refmodel.Status
			}
			gotEvents = append(gotEvents, refmodel.Event{Topic: topic, JSON: string(e.Raw)})
		}
		if strings.HasPrefix(what, "advance") {
			// Expiries of several accounts come in no particular order.
			require.ElementsMatch(t, eventJSON(want), eventJSON(gotEvents), "seed %d step %d: %s", seed, step, what)
		} else {
			require.Equal(t, byTopic(want), byTopic(gotEvents), "seed %d step %d: %s", seed, step, what)
		}
		require.Empty(t, h.DeadLetters(), "seed %d step %d: %s", seed, step, what)
		if rng.Intn(3) == 0 {
			h.Advance(time.Second)
		}
	}
	for _, tn := range tenants {
		h.Tenant = tn
		mt := refmodel.Tenant{ID: tn.ID.String(), Region: tn.Region, Major: int(tn.Major)}
		for id, a := range m.Accounts(mt) {
			got := h.Account(id)
			require.NotNil(t, got, "account %d", id)
			require.Equal(t, a.Name, got.Name)
			require.EqualValues(t, a.State(), model.State(got), "account %d state", id)
			require.Equal(t, a.Tos, got.Tos)
			require.EqualValues(t, a.Gender, got.Gender)
		}
	}
}

func eventJSON(evs []refmodel.Event) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.JSON)
	}
	return out
}
