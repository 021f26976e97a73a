package server_test

import (
	"context"
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/server"
)

// One import at a time: a second one is refused while the first holds
// the lock, and allowed once it is done.
func TestLockImport(t *testing.T) {
	s := xmpptest.Start(t)
	ctx := context.Background()
	unlock, err := server.LockImport(ctx, s.DB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.LockImport(ctx, s.DB); err == nil || !strings.Contains(err.Error(), "another import") {
		t.Fatalf("a second import: %v, want refused", err)
	}
	unlock()
	again, err := server.LockImport(ctx, s.DB)
	if err != nil {
		t.Fatalf("an import after the first: %v", err)
	}
	again()
}
