package pep

import (
	"context"
	"errors"
	"fmt"

	"mellium.im/xmpp/jid"

	"xmppd/storage"
	"xmppd/xmlstream"
)

// Service lets other parts of the server read and change an account's
// nodes in its name, notifying as a client's publish would: XEP-0402's
// bookmarks kept in step with XEP-0049 private storage.
type Service struct{ m *module }

// MaxItems is the most items a node may keep.
func (s *Service) MaxItems() int { return s.m.MaxItems }

// Items returns the configuration and the items of owner's node, oldest
// first; exists is false when there is no such node.
func (s *Service) Items(ctx context.Context, owner jid.JID, node string) (cfg NodeConfig, items []*xmlstream.Element, exists bool, err error) {
	ctx, cancel := timeout(ctx)
	defer cancel()
	cfg, stored, err := s.m.Store.Items(ctx, owner, node, nil, s.m.MaxItems)
	if errors.Is(err, storage.ErrNotFound) {
		return cfg, nil, false, nil
	}
	if err != nil {
		return cfg, nil, false, fmt.Errorf("pep: read %s of %s: %w", node, owner, err)
	}
	for _, it := range stored {
		p, err := parsePayload(it.Payload)
		if err != nil {
			return cfg, nil, false, fmt.Errorf("pep: parse item %s of %s of %s: %w", it.ID, node, owner, err)
		}
		items = append(items, xmlstream.NewElement(NS, "item", "id", it.ID).AddChild(p))
	}
	return cfg, items, true, nil
}

// OnPublish has f called after a client of owner published payload as
// item id of node (not after the publishes of this Service).
func (s *Service) OnPublish(f func(ctx context.Context, owner jid.JID, node, id string, payload *xmlstream.Element)) {
	s.m.published = append(s.m.published, f)
}

// OnRemove has f called after a client of owner retracted item id of
// node, or purged or deleted node (id ""), not after the retractions of
// this Service.
func (s *Service) OnRemove(f func(ctx context.Context, owner jid.JID, node, id string)) {
	s.m.removed = append(s.m.removed, f)
}

// OnRead has f called before a client of owner reads the items of
// owner's node, which may not exist yet: f may make it, as a node kept
// in step with another is made when it is first wanted.
func (s *Service) OnRead(f func(ctx context.Context, owner jid.JID, node string)) {
	s.m.reading = append(s.m.reading, f)
}

// Item returns the payload of item id of owner's node; nil when there is
// no such node or item.
func (s *Service) Item(ctx context.Context, owner jid.JID, node, id string) (*xmlstream.Element, error) {
	ctx, cancel := timeout(ctx)
	defer cancel()
	_, stored, err := s.m.Store.Items(ctx, owner, node, []string{id}, 1)
	if errors.Is(err, storage.ErrNotFound) || err == nil && len(stored) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pep: read %s of %s of %s: %w", id, node, owner, err)
	}
	p, err := parsePayload(stored[0].Payload)
	if err != nil {
		return nil, fmt.Errorf("pep: parse item %s of %s of %s: %w", id, node, owner, err)
	}
	return p, nil
}

// Node returns the configuration of owner's node; exists is false when
// there is no such node.
func (s *Service) Node(ctx context.Context, owner jid.JID, node string) (cfg NodeConfig, exists bool, err error) {
	ctx, cancel := timeout(ctx)
	defer cancel()
	cfg, err = s.m.Store.Node(ctx, owner, node)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return cfg, false, nil
	case err != nil:
		return cfg, false, fmt.Errorf("pep: read the configuration of %s of %s: %w", node, owner, err)
	}
	return cfg, true, nil
}

// Create creates owner's node with cfg unless it exists.
func (s *Service) Create(ctx context.Context, owner jid.JID, node string, cfg NodeConfig) error {
	ctx, cancel := timeout(ctx)
	defer cancel()
	if err := s.m.Store.Create(ctx, owner, node, cfg, s.m.Limits); err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("pep: create %s of %s: %w", node, owner, err)
	}
	return nil
}

// Configure replaces the configuration of owner's node.
func (s *Service) Configure(ctx context.Context, owner jid.JID, node string, cfg NodeConfig) error {
	ctx, cancel := timeout(ctx)
	defer cancel()
	if err := s.m.Store.Configure(ctx, owner, node, cfg); err != nil {
		return fmt.Errorf("pep: configure %s of %s: %w", node, owner, err)
	}
	return nil
}

// Publish stores payload as item id of owner's node, creating the node
// with create if it does not exist, and notifies.
func (s *Service) Publish(ctx context.Context, owner jid.JID, node string, create NodeConfig, id string, payload *xmlstream.Element) error {
	sctx, cancel := timeout(ctx)
	defer cancel()
	item := Item{ID: id, Payload: payload.Append(nil, "")}
	cfg, err := s.m.Store.Publish(sctx, owner, node, create, func(NodeConfig) error { return nil }, item, s.m.Limits)
	if err != nil {
		return fmt.Errorf("pep: publish %s to %s of %s: %w", id, node, owner, err)
	}
	s.m.notify(ctx, owner, node, cfg, itemsEvent(node, eventItem(id, payload)))
	return nil
}

// Retract removes item id of owner's node and notifies if the node says
// so; an item that is not there is no error.
func (s *Service) Retract(ctx context.Context, owner jid.JID, node, id string) error {
	sctx, cancel := timeout(ctx)
	defer cancel()
	cfg, err := s.m.Store.Retract(sctx, owner, node, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("pep: retract %s from %s of %s: %w", id, node, owner, err)
	}
	if cfg.NotifyRetract {
		s.m.notify(ctx, owner, node, cfg, itemsEvent(node, xmlstream.NewElement(NSEvent, "retract", "id", id)))
	}
	return nil
}
