package acme

import (
	"net/http"
	"testing"
	"time"

	acmeapi "golang.org/x/crypto/acme"
)

// An authority's rate limit reaches retryWait wrapped by errorf, as obtain
// returns it; its Retry-After must still set the wait, or the manager asks
// again every few minutes while the limit holds.
func TestRetryWaitHonoursWrappedRateLimit(t *testing.T) {
	limited := &acmeapi.Error{
		StatusCode:  http.StatusTooManyRequests,
		ProblemType: "urn:ietf:params:acme:error:rateLimited",
		Detail:      "too many certificates already issued",
		Header:      http.Header{"Retry-After": {"172800"}},
	}
	for _, err := range []error{limited, errorf("example.com", "order", limited)} {
		if got := retryWait(1, err); got < 48*time.Hour {
			t.Errorf("retryWait(1, %v) = %v, want at least the authority's Retry-After of 48h", err, got)
		}
	}
}
