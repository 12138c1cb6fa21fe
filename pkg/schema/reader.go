package schema

import (
	"fmt"
	"net/netip"
	"strings"
)

// msgpack codes the reader needs (the msgpack specification's names).
const (
	mpNil      = 0xc0
	mpFalse    = 0xc2
	mpTrue     = 0xc3
	mpBin8     = 0xc4
	mpBin16    = 0xc5
	mpBin32    = 0xc6
	mpExt8     = 0xc7
	mpExt16    = 0xc8
	mpExt32    = 0xc9
	mpFloat    = 0xca
	mpDouble   = 0xcb
	mpUint8    = 0xcc
	mpUint16   = 0xcd
	mpUint32   = 0xce
	mpUint64   = 0xcf
	mpInt8     = 0xd0
	mpInt16    = 0xd1
	mpInt32    = 0xd2
	mpInt64    = 0xd3
	mpFixExt1  = 0xd4
	mpFixExt2  = 0xd5
	mpFixExt4  = 0xd6
	mpFixExt8  = 0xd7
	mpFixExt16 = 0xd8
	mpStr8     = 0xd9
	mpStr16    = 0xda
	mpStr32    = 0xdb
	mpArray16  = 0xdc
	mpArray32  = 0xdd
	mpMap16    = 0xde
	mpMap32    = 0xdf
)

// r reads msgpack values straight from the message and keeps the first
// error. It accepts exactly what vmihailenco/msgpack's Decode* methods
// accepted when the decoder was built on them (nil as zero, any integer
// width for any integer field, bin for str), so batches from every writer
// of version 1 decode as before; reference_test.go checks that.
//
// msg is the message converted to a string once: every decoded string is a
// substring of it, which costs no allocation and no copy per string.
type r struct {
	msg string
	pos int
	err error
	obj string // what is being decoded, for errors
	idx int    // index of obj in its list, -1 for none

	slabs

	// own holds the distinct values keep copied in this batch: a batch
	// has few containers, so a short scan finds repeats.
	own  [16]string
	nOwn int
}

// keep returns v with memory of its own instead of a slice of the
// message, so that a consumer keeping it (a cache keyed by container id)
// does not keep the whole message. Repeats within a batch share a copy.
func (r *r) keep(v string) string {
	switch v {
	case "":
		return ""
	case HostContainerID:
		return HostContainerID
	}
	for _, o := range r.own[:r.nOwn] {
		if o == v {
			return o
		}
	}
	c := strings.Clone(v)
	if r.nOwn < len(r.own) {
		r.own[r.nOwn] = c
		r.nOwn++
	}
	return c
}

func (r *r) where() string {
	if r.idx < 0 {
		return r.obj
	}
	return fmt.Sprintf("%s %d", r.obj, r.idx)
}

// truncated and invalid set r.err and move pos to the end, so that the
// fast paths need no error test: with nothing left to read they
// fall to the slow paths, which see r.err and return zero values.
func (r *r) truncated() {
	if r.err == nil {
		r.err = fmt.Errorf("%w: in %s", ErrTruncated, r.where())
	}
	r.pos = len(r.msg)
}

func (r *r) invalid(c byte, what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: in %s: invalid code 0x%02x for %s at byte %d", ErrMalformed, r.where(), c, what, r.pos-1)
	}
	r.pos = len(r.msg)
}

// code reads one byte; ok is false (and r.err set) at the end of data.
func (r *r) code() (c byte, ok bool) {
	if r.err != nil {
		return 0, false
	}
	if r.pos >= len(r.msg) {
		r.truncated()
		return 0, false
	}
	c = r.msg[r.pos]
	r.pos++
	return c, true
}

// peek returns the next byte without consuming it.
func (r *r) peek() (c byte, ok bool) {
	if r.err != nil {
		return 0, false
	}
	if r.pos >= len(r.msg) {
		r.truncated()
		return 0, false
	}
	return r.msg[r.pos], true
}

// be reads an n-byte (1, 2, 4 or 8) big-endian unsigned integer.
func (r *r) be(n int) uint64 {
	if r.err != nil {
		return 0
	}
	p := r.pos
	if len(r.msg)-p < n {
		r.truncated()
		return 0
	}
	r.pos = p + n
	b := r.msg[p : p+n]
	switch n {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(b[1]) | uint64(b[0])<<8
	case 4:
		_ = b[3]
		return uint64(b[3]) | uint64(b[2])<<8 | uint64(b[1])<<16 | uint64(b[0])<<24
	}
	_ = b[7]
	return uint64(b[7]) | uint64(b[6])<<8 | uint64(b[5])<<16 | uint64(b[4])<<24 |
		uint64(b[3])<<32 | uint64(b[2])<<40 | uint64(b[1])<<48 | uint64(b[0])<<56
}

// take returns the next n bytes.
func (r *r) take(n int) string {
	if r.err != nil {
		return ""
	}
	if n < 0 || len(r.msg)-r.pos < n {
		r.truncated()
		return ""
	}
	v := r.msg[r.pos : r.pos+n]
	r.pos += n
	return v
}

// u reads any msgpack integer (or nil, as 0) as the bits of a uint64;
// signed values are sign-extended, as msgpack's DecodeUint64 does. The
// common small value (a positive fixint) is read here, without the call.
func (r *r) u() uint64 {
	if p := r.pos; p < len(r.msg) {
		if c := r.msg[p]; c < 0x80 {
			r.pos = p + 1
			return uint64(c)
		}
	}
	return r.num()
}

// i reads any msgpack integer (or nil, as 0).
func (r *r) i() int64 { return int64(r.u()) }

// num is u past the positive fixint case: one function with no calls on
// the good path, since integers are most of a batch's values. The switch
// on c alone compiles to a jump table.
func (r *r) num() uint64 {
	p := r.pos
	if p >= len(r.msg) {
		r.truncated()
		return 0
	}
	c := r.msg[p]
	if c >= 0xe0 { // negative fixint
		r.pos = p + 1
		return uint64(int64(int8(c)))
	}
	b := r.msg[p+1:]
	switch c {
	case mpNil:
		r.pos = p + 1
		return 0
	case mpUint8:
		if len(b) >= 1 {
			r.pos = p + 2
			return uint64(b[0])
		}
	case mpInt8:
		if len(b) >= 1 {
			r.pos = p + 2
			return uint64(int64(int8(b[0])))
		}
	case mpUint16:
		if len(b) >= 2 {
			r.pos = p + 3
			return uint64(b[1]) | uint64(b[0])<<8
		}
	case mpInt16:
		if len(b) >= 2 {
			r.pos = p + 3
			return uint64(int64(int16(uint16(b[1]) | uint16(b[0])<<8)))
		}
	case mpUint32:
		if len(b) >= 4 {
			r.pos = p + 5
			return uint64(b[3]) | uint64(b[2])<<8 | uint64(b[1])<<16 | uint64(b[0])<<24
		}
	case mpInt32:
		if len(b) >= 4 {
			r.pos = p + 5
			return uint64(int64(int32(uint32(b[3]) | uint32(b[2])<<8 | uint32(b[1])<<16 | uint32(b[0])<<24)))
		}
	case mpUint64, mpInt64:
		if len(b) >= 8 {
			r.pos = p + 9
			return uint64(b[7]) | uint64(b[6])<<8 | uint64(b[5])<<16 | uint64(b[4])<<24 |
				uint64(b[3])<<32 | uint64(b[2])<<40 | uint64(b[1])<<48 | uint64(b[0])<<56
		}
	default:
		if c <= 0x7f { // positive fixint, when u's test was skipped
			r.pos = p + 1
			return uint64(c)
		}
		r.pos = p + 1
		r.invalid(c, "integer")
		return 0
	}
	r.truncated()
	return 0
}

// strLen reads a str or bin header: -1 for nil.
func (r *r) strLen(c byte) int {
	switch {
	case c&0xe0 == 0xa0: // fixstr
		return int(c & 0x1f)
	case c == mpNil:
		return -1
	case c == mpStr8, c == mpBin8:
		return int(r.be(1))
	case c == mpStr16, c == mpBin16:
		return int(r.be(2))
	case c == mpStr32, c == mpBin32:
		return int(r.be(4))
	}
	r.invalid(c, "string")
	return 0
}

// s reads a str or bin value (nil is ""). The common short string (a
// fixstr) is read here, without the call.
func (r *r) s() string {
	if p := r.pos; p < len(r.msg) && r.msg[p]&0xe0 == 0xa0 {
		if end := p + 1 + int(r.msg[p]&0x1f); end <= len(r.msg) {
			r.pos = end
			return r.msg[p+1 : end]
		}
	}
	return r.str()
}

func (r *r) str() string {
	c, ok := r.code()
	if !ok {
		return ""
	}
	n := r.strLen(c)
	if n <= 0 {
		return ""
	}
	return r.take(n)
}

func (r *r) b() bool {
	c, ok := r.code()
	if !ok {
		return false
	}
	switch c {
	case mpTrue:
		return true
	case mpFalse, mpNil:
		return false
	}
	r.invalid(c, "bool")
	return false
}

// arr reads an array header and returns its length; nil is 0.
func (r *r) arr() int {
	if p := r.pos; p < len(r.msg) && r.msg[p]&0xf0 == 0x90 {
		r.pos = p + 1
		return int(r.msg[p] & 0x0f)
	}
	return r.arrSlow()
}

func (r *r) arrSlow() int {
	c, ok := r.code()
	if !ok {
		return 0
	}
	return r.arrLen(c)
}

func (r *r) arrLen(c byte) int {
	switch {
	case c&0xf0 == 0x90:
		return int(c & 0x0f)
	case c == mpNil:
		return 0
	case c == mpArray16:
		return int(r.be(2))
	case c == mpArray32:
		return int(r.be(4))
	}
	r.invalid(c, "array")
	return 0
}

func (r *r) mapLen(c byte) int {
	switch {
	case c&0xf0 == 0x80:
		return int(c & 0x0f)
	case c == mpNil:
		return 0
	case c == mpMap16:
		return int(r.be(2))
	case c == mpMap32:
		return int(r.be(4))
	}
	r.invalid(c, "map")
	return 0
}

// extLen reads the length of an ext value, or -1 when c is not an ext.
func (r *r) extLen(c byte) int {
	switch c {
	case mpFixExt1:
		return 1
	case mpFixExt2:
		return 2
	case mpFixExt4:
		return 4
	case mpFixExt8:
		return 8
	case mpFixExt16:
		return 16
	case mpExt8:
		return int(r.be(1))
	case mpExt16:
		return int(r.be(2))
	case mpExt32:
		return int(r.be(4))
	}
	return -1
}

// strs reads an array of strings; an empty one is nil.
func (r *r) strs() []string {
	n := r.arr()
	if n == 0 || !r.count(n) {
		return nil
	}
	out := r.strSlice(n)
	for k := range out {
		out[k] = r.s()
	}
	return out
}

// addr reads a bin (or str) of 4 or 16 bytes; anything else is the zero
// Addr, as it always was.
func (r *r) addr() netip.Addr {
	c, ok := r.code()
	if !ok {
		return netip.Addr{}
	}
	n := r.strLen(c)
	if n <= 0 {
		return netip.Addr{}
	}
	v := r.take(n)
	switch len(v) {
	case 4:
		return netip.AddrFrom4([4]byte([]byte(v)))
	case 16:
		return netip.AddrFrom16([16]byte([]byte(v)))
	}
	return netip.Addr{}
}

// smap reads a map of strings; an empty one is nil. Like msgpack's
// DecodeMapLen it steps over an ext header in front of the map.
func (r *r) smap() map[string]string {
	c, ok := r.code()
	if !ok {
		return nil
	}
	if n := r.extLen(c); n >= 0 {
		// The ext type byte follows the length; msgpack skips both.
		r.take(1)
		if c, ok = r.code(); !ok {
			return nil
		}
	}
	n := r.mapLen(c)
	if n <= 0 || r.err != nil {
		return nil
	}
	m := make(map[string]string, min(n, 64))
	for k := 0; k < n && r.err == nil; k++ {
		key := r.s()
		m[key] = r.s()
	}
	return m
}

// isNil consumes a nil and reports whether the next value was one.
func (r *r) isNil() bool {
	c, ok := r.peek()
	if ok && c == mpNil {
		r.pos++
		return true
	}
	return false
}

// rest skips fields a newer writer added after the known ones.
func (r *r) rest(n, known int) {
	if n > known {
		r.skip(n - known)
	}
}

// skip steps over n values. It counts the values still owed instead of
// recursing, so nesting depth costs no stack; every value takes at least
// one byte, so a lying length ends at the end of data.
func (r *r) skip(n int) {
	for ; n > 0 && r.err == nil; n-- {
		c, ok := r.code()
		if !ok {
			return
		}
		switch {
		case c <= 0x7f || c >= 0xe0, c == mpNil, c == mpFalse, c == mpTrue:
		case c&0xf0 == 0x80, c == mpMap16, c == mpMap32:
			n += 2 * r.mapLen(c)
		case c&0xf0 == 0x90, c == mpArray16, c == mpArray32:
			n += r.arrLen(c)
		case c&0xe0 == 0xa0, c >= mpBin8 && c <= mpBin32, c >= mpStr8 && c <= mpStr32:
			if l := r.strLen(c); l > 0 {
				r.take(l)
			}
		case c == mpUint8, c == mpInt8:
			r.take(1)
		case c == mpUint16, c == mpInt16:
			r.take(2)
		case c == mpUint32, c == mpInt32, c == mpFloat:
			r.take(4)
		case c == mpUint64, c == mpInt64, c == mpDouble:
			r.take(8)
		default:
			if l := r.extLen(c); l >= 0 {
				r.take(l + 1)
			} else {
				r.invalid(c, "value")
			}
		}
	}
}

// count guards slice allocation against a corrupt length: every element
// takes at least one byte, so more elements than bytes left is a lie.
func (r *r) count(n int) bool {
	if r.err != nil {
		return false
	}
	if n > len(r.msg)-r.pos {
		r.truncated()
		return false
	}
	return true
}
