package mam

import (
	"context"
	"time"
)

// retain runs the retention job every ExpireEvery until ctx ends.
func (m *Module) retain(ctx context.Context) {
	t := time.NewTicker(m.cfg.ExpireEvery)
	defer t.Stop()
	for {
		if _, err := m.Expire(ctx, time.Now()); err != nil && ctx.Err() == nil {
			m.cfg.Logger.Error("expiring archived messages", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Expire deletes the messages older than RetentionDays before now, in
// statements of at most ExpireBatch rows so that no statement holds locks
// or builds a transaction long, and returns how many it deleted. It does
// nothing without a retention.
func (m *Module) Expire(ctx context.Context, now time.Time) (int, error) {
	if m.cfg.RetentionDays <= 0 {
		return 0, nil
	}
	before := now.AddDate(0, 0, -m.cfg.RetentionDays)
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		sctx, cancel := context.WithTimeout(ctx, timeout)
		n, err := m.cfg.Store.Expire(sctx, before, m.cfg.ExpireBatch)
		cancel()
		total += n
		if err != nil || n < m.cfg.ExpireBatch {
			return total, err
		}
	}
}
