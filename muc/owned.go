package muc

import "slices"

// ownedRooms counts the persistent rooms each user owns, for the limit
// Config.MaxOwnedRooms, without taking every room's lock to count them.
// Service.mu guards it; a room updates its entry when it is stored
// (Service.save) and when it is forgotten.
type ownedRooms struct {
	owners map[string][]string // room name -> owners' bare JIDs, for persistent rooms
	count  map[string]int      // owner's bare JID -> persistent rooms owned
}

func newOwnedRooms() ownedRooms {
	return ownedRooms{owners: map[string][]string{}, count: map[string]int{}}
}

// set records owners as the owners of the room name; nil for a room
// that is temporary or gone.
func (o ownedRooms) set(name string, owners []string) {
	for _, j := range o.owners[name] {
		if o.count[j]--; o.count[j] <= 0 {
			delete(o.count, j)
		}
	}
	delete(o.owners, name)
	if len(owners) == 0 {
		return
	}
	o.owners[name] = owners
	for _, j := range owners {
		o.count[j]++
	}
}

// persistentOwners returns the bare JIDs of rm's owners, sorted, when
// rm is persistent; nil otherwise. The caller holds rm's lock.
func (rm *room) persistentOwners() []string {
	if !rm.cfg.Persistent || rm.gone {
		return nil
	}
	var owners []string
	for j, a := range rm.affs {
		if a == Owner {
			owners = append(owners, j)
		}
	}
	slices.Sort(owners)
	return owners
}

// indexOwners records rm's owners, if it is persistent, in s.owned; the
// caller holds rm's lock (lock order: room.mu, then Service.mu).
func (s *Service) indexOwners(rm *room) {
	owners := rm.persistentOwners()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[rm.name] == rm {
		s.owned.set(rm.name, owners)
	}
}

// ownsMostRooms reports whether the user bare (a bare JID) owns as many
// persistent rooms as Config.MaxOwnedRooms allows, so may not make
// one more persistent.
func (s *Service) ownsMostRooms(bare string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owned.count[bare] >= s.cfg.MaxOwnedRooms
}
