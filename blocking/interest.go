package blocking

import (
	"sync"

	"mellium.im/xmpp/jid"
)

// interest remembers the sessions that retrieved their account's
// blocklist: XEP-0191 §3.3 pushes changes to them only. A session is
// forgotten when it leaves the router's session table (router.OnUnbind),
// so the table holds at most one entry per bound session.
type interest struct {
	mu        sync.Mutex
	byAccount map[string]map[string]bool // bare JID → resources
}

// add records that the session full retrieved the blocklist.
func (in *interest) add(full jid.JID) {
	bare := full.Bare().String()
	in.mu.Lock()
	defer in.mu.Unlock()
	set := in.byAccount[bare]
	if set == nil {
		set = map[string]bool{}
		in.byAccount[bare] = set
	}
	set[full.Resourcepart()] = true
}

// resources returns the interested resources of the account bare.
func (in *interest) resources(bare jid.JID) []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	set := in.byAccount[bare.String()]
	rs := make([]string, 0, len(set))
	for r := range set {
		rs = append(rs, r)
	}
	return rs
}

// forget drops the session full.
func (in *interest) forget(full jid.JID) {
	k := full.Bare().String()
	in.mu.Lock()
	defer in.mu.Unlock()
	if set := in.byAccount[k]; set != nil {
		delete(set, full.Resourcepart())
		if len(set) == 0 {
			delete(in.byAccount, k)
		}
	}
}
