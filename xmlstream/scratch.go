package xmlstream

import "sync"

// scratch is the working memory of a Decoder while it reads an element:
// the tokenizer's buffers and the flat tree. Decoders borrow it from
// scratches for one element and give it back when the element is done, so
// that an idle connection holds none and a busy server reuses it.
type scratch struct {
	out, names []byte
	attrs      []rawAttr
	pels       []pel
	pattrs     []pattr
	pending    []pnode
	kids       []pnode
	stack      []frame
}

var scratches = sync.Pool{New: func() any { return new(scratch) }}

// Scratch space grown beyond these sizes is dropped rather than pooled.
const (
	maxPooledBytes = 16 << 10
	maxPooledItems = 256
)

// borrow gives d scratch space, if it has none.
func (d *Decoder) borrow() {
	if d.sc != nil {
		return
	}
	s := scratches.Get().(*scratch)
	d.sc = s
	d.tok.out, d.tok.names, d.tok.attrs = s.out[:0], s.names[:0], s.attrs[:0]
	d.pels, d.pattrs, d.pending, d.kids, d.stack = s.pels[:0], s.pattrs[:0], s.pending[:0], s.kids[:0], s.stack[:0]
}

// giveBack returns d's scratch space to the pool.
func (d *Decoder) giveBack() {
	s := d.sc
	if s == nil {
		return
	}
	d.sc = nil
	s.out, s.names = keep(d.tok.out, maxPooledBytes), keep(d.tok.names, maxPooledBytes)
	s.attrs = keep(d.tok.attrs, maxPooledItems)
	s.pels, s.pattrs = keep(d.pels, maxPooledItems), keep(d.pattrs, maxPooledItems)
	s.pending, s.kids = keep(d.pending, maxPooledItems), keep(d.kids, maxPooledItems)
	s.stack = keep(d.stack, maxPooledItems)
	d.tok.out, d.tok.names, d.tok.attrs = nil, nil, nil
	d.pels, d.pattrs, d.pending, d.kids, d.stack = nil, nil, nil, nil, nil
	scratches.Put(s)
}

// keep returns s emptied, or nil if it grew beyond max items.
func keep[T any](s []T, max int) []T {
	if cap(s) > max {
		return nil
	}
	return s[:0]
}
