package xmlstream

import (
	"errors"
	"io"
	"math"
	"sync"
)

const (
	idleBufSize = 512  // buffer used while waiting for the next element
	bigBufSize  = 4096 // buffer used while reading an element
)

// errBudget is returned by the tokenizer once the byte budget of the
// current element is spent.
var errBudget = errors.New("xmlstream: size limit reached")

var bigBufs = sync.Pool{New: func() any { return new([bigBufSize]byte) }}

// byteReader is the buffer the tokenizer reads from. It never buffers more
// than bigBufSize bytes, and holds the budget of bytes the tokenizer may
// still look at.
//
// While the decoder waits between elements it reads into a small buffer of
// its own, and borrows a bigger one from a pool only while an element is
// being read, so an idle connection holds little memory.
type byteReader struct {
	src  io.Reader // nil when reading from a fixed slice
	buf  []byte
	r, w int

	idle []byte            // lazily allocated, idleBufSize
	big  *[bigBufSize]byte // borrowed from bigBufs while non-nil
	pend error             // error from src to report once buf is drained
	left int               // budget: bytes the tokenizer may still look at
}

func (br *byteReader) setBytes(data []byte) {
	br.src, br.buf, br.r, br.w = nil, data, 0, len(data)
}

// reset switches to a new source, dropping anything buffered.
func (br *byteReader) reset(src io.Reader) {
	br.r = br.w
	br.release()
	br.src, br.buf, br.r, br.w, br.pend = src, nil, 0, 0, nil
}

// setBudget lets the tokenizer look at n more bytes (no limit when n < 0).
func (br *byteReader) setBudget(n int) {
	if n < 0 {
		n = math.MaxInt
	}
	br.left = n
}

// peek returns the next byte without consuming it.
func (br *byteReader) peek() (byte, error) {
	if br.r == br.w {
		if err := br.fill(true); err != nil {
			return 0, err
		}
	}
	return br.buf[br.r], nil
}

// skipSpace consumes XML whitespace, without budget, and returns the first
// other byte without consuming it.
func (br *byteReader) skipSpace() (byte, error) {
	for {
		for br.r < br.w {
			switch c := br.buf[br.r]; c {
			case ' ', '\t', '\r', '\n':
				br.r++
			default:
				return c, nil
			}
		}
		if err := br.fill(true); err != nil {
			return 0, err
		}
	}
}

// fill reads more bytes from src into an empty buffer. idle selects the
// small buffer (waiting between elements) instead of a pooled big one.
func (br *byteReader) fill(idle bool) error {
	if br.pend != nil {
		err := br.pend
		br.pend = nil
		return err
	}
	if br.src == nil {
		return io.EOF
	}
	if idle {
		br.release()
		if br.idle == nil {
			br.idle = make([]byte, idleBufSize)
		}
		br.buf = br.idle
	} else {
		if br.big == nil {
			br.big = bigBufs.Get().(*[bigBufSize]byte)
		}
		br.buf = br.big[:]
	}
	br.r, br.w = 0, 0
	for range 100 {
		n, err := br.src.Read(br.buf)
		if n < 0 || n > len(br.buf) {
			return errors.New("xmlstream: read: reader returned an invalid count")
		}
		br.w = n
		if n > 0 {
			br.pend = err
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// release returns the big buffer to the pool once it holds nothing unread.
func (br *byteReader) release() {
	if br.big != nil && br.r == br.w {
		bigBufs.Put(br.big)
		br.big = nil
		br.buf, br.r, br.w = nil, 0, 0
	}
}

// buffered returns the number of bytes read from src but not yet consumed.
func (br *byteReader) buffered() int { return br.w - br.r }
