package fields

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// flat extracts f from a hand-written test event (Ctx.Flat). A missing key
// or a nil value is no value. Multi fields give their output form: a list
// of strings blank-joined, the first element of any other list;
// proc.aname and its siblings without an index fall back to the indexed
// keys ("proc.aname[1]", "proc.aname[2]" ...).
func (f *Field) flat(c *Ctx) (Value, bool) {
	raw, ok := c.Flat[f.spelling]
	if !ok || raw == nil {
		if f.multi && !f.HasArg {
			var first Value
			found := false
			f.flatAll(c, func(v Value) bool { first, found = v, true; return false })
			return first, found
		}
		return Value{}, false
	}
	switch l := raw.(type) {
	case []string:
		if len(l) == 0 {
			return Value{}, false
		}
		if f.multi && f.Type == TString {
			return f.flatValue(strings.Join(l, " "))
		}
		return f.flatValue(l[0])
	case []any:
		if len(l) == 0 {
			return Value{}, false
		}
		if f.multi && f.Type == TString {
			// The output form of a list, as for real events: the items
			// blank-separated (libsinsp prints proc.aname so).
			parts := make([]string, len(l))
			for i, x := range l {
				parts[i] = fmt.Sprint(x)
			}
			return f.flatValue(strings.Join(parts, " "))
		}
		return f.flatValue(l[0])
	}
	return f.flatValue(raw)
}

func (f *Field) flatAll(c *Ctx, fn func(Value) bool) {
	raw, ok := c.Flat[f.spelling]
	if !ok && f.multi && !f.HasArg {
		for i := 1; ; i++ {
			v, ok := c.Flat[f.spelling+"["+strconv.Itoa(i)+"]"]
			if !ok || v == nil {
				return
			}
			if x, ok := f.flatValue(v); !ok || !fn(x) {
				return
			}
		}
	}
	if raw == nil {
		return
	}
	switch l := raw.(type) {
	case []string:
		for _, s := range l {
			if v, ok := f.flatValue(s); ok && !fn(v) {
				return
			}
		}
		return
	case []any:
		for _, x := range l {
			if v, ok := f.flatValue(x); ok && !fn(v) {
				return
			}
		}
		return
	}
	if v, ok := f.flatValue(raw); ok {
		fn(v)
	}
}

// flatValue converts one hand-written value to f's type. Strings are
// parsed as rule literals; numbers, booleans and addresses are taken as
// they are. A value that does not fit gives no value.
func (f *Field) flatValue(x any) (Value, bool) {
	if _, isStr := x.(string); !isStr && x != nil && (f.Type == TString || f.Type == TBytes) {
		return str(fmt.Sprint(x)), true
	}
	switch v := x.(type) {
	case nil:
		return Value{}, false
	case string:
		if f.Type == TIPNet {
			// A flat fd.net holds an address, not a network.
			ip, err := netip.ParseAddr(v)
			return Value{IP: ip.Unmap()}, err == nil
		}
		val, err := f.ParseLiteral(v)
		return val, err == nil
	case bool:
		return boolean(v), true
	case netip.Addr:
		return Value{IP: v.Unmap()}, true
	case int:
		return num(int64(v)), true
	case int32:
		return num(int64(v)), true
	case int64:
		return num(v), true
	case uint16:
		return num(int64(v)), true
	case uint32:
		return num(int64(v)), true
	case uint64:
		return unum(v), true
	case float64: // encoding/json numbers
		return num(int64(v)), true
	case fmt.Stringer:
		return f.flatValue(v.String())
	}
	return Value{}, false
}
