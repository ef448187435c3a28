package views

import (
	"context"
	"fmt"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/registry"
	"github.com/atlasstreams/atlas/processors/registry/registrypb"
	"github.com/atlasstreams/atlas/processors/runtime"
)

// Registry tells whether an account is logged in, as the account registry group last saw it
// on EVENT_TOPIC_ACCOUNT_STATUS. The channel service depends on this interface only.
type Registry interface {
	// LoggedIn is false for an account the registry has no row for. The error is ErrNotReady
	// until the registry table is recovered.
	LoggedIn(t codecs.Tenant, accountID uint32) (bool, error)
}

// ViewRegistry is the Registry over a view of the registry table.
type ViewRegistry struct {
	src ViewSource
}

var _ Registry = (*ViewRegistry)(nil)

// NewRegistry reads the registry table through src, whose values are *registrypb.Entry
// (codec registry.TableCodec).
func NewRegistry(src ViewSource) *ViewRegistry { return &ViewRegistry{src: src} }

// Ready reports whether the registry table has been recovered.
func (r *ViewRegistry) Ready() bool { return r.src.Ready() }

// Entry returns the account's row, nil when it has none.
func (r *ViewRegistry) Entry(t codecs.Tenant, accountID uint32) (*registrypb.Entry, error) {
	if !r.src.Ready() {
		return nil, ErrNotReady
	}
	v, err := r.src.Get(model.AccountKey(t, accountID))
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	if v == nil {
		return nil, nil
	}
	e, ok := v.(*registrypb.Entry)
	if !ok {
		return nil, fmt.Errorf("registry: row is %T, want *registrypb.Entry", v)
	}
	return e, nil
}

// LoggedIn implements Registry.
func (r *ViewRegistry) LoggedIn(t codecs.Tenant, accountID uint32) (bool, error) {
	e, err := r.Entry(t, accountID)
	if err != nil {
		return false, err
	}
	return e.GetLoggedIn(), nil
}

// RegistryView is a started, supervised view of the registry table with the Registry on
// top: what a channel instance runs.
type RegistryView struct {
	*ViewRegistry
	View *runtime.RunningView
}

// Done is closed once the view stopped after ctx ended.
func (r *RegistryView) Done() <-chan struct{} { return r.View.Done() }

// StartRegistry runs a view of the registry table until ctx ends.
func StartRegistry(ctx context.Context, o runtime.Options) *RegistryView {
	rv := o.StartView(ctx, atlas.RegistryTable, new(registry.TableCodec))
	return &RegistryView{ViewRegistry: NewRegistry(FromRunningView(rv)), View: rv}
}
