package fields

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Type is the type of a field's values, after libsinsp's PT_* field types.
type Type uint8

// Field types.
const (
	TString  Type = iota // CHARBUF: Value.Str
	TInt64               // signed integer: Value.Num
	TUint64              // unsigned integer: Value.Num holds the bits
	TBool                // Value.Num is 0 or 1
	TIPAddr              // Value.IP
	TIPNet               // extracted values are addresses in Value.IP; literals are prefixes (see [Value.Prefix])
	TPort                // Value.Num, 0..65535
	TRelTime             // nanoseconds in Value.Num
	TAbsTime             // nanoseconds since the Unix epoch in Value.Num
	TBytes               // raw bytes in Value.Str (evt.buffer)
)

var typeNames = [...]string{"string", "int64", "uint64", "bool", "ipaddr", "ipnet", "port", "reltime", "abstime", "bytes"}

// String names t as FIELDS.md does ("string", "ipnet" ...).
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type" + strconv.Itoa(int(t))
}

// Numeric reports whether values of t are compared as numbers in Value.Num.
func (t Type) Numeric() bool {
	switch t {
	case TInt64, TUint64, TBool, TPort, TRelTime, TAbsTime:
		return true
	}
	return false
}

// Unsigned reports whether Value.Num of t must be compared as uint64.
func (t Type) Unsigned() bool { return t == TUint64 }

// NA is what Falco prints for a field with no value.
const NA = "<NA>"

// Value is one extracted value. Which member is set depends on the field's Type.
type Value struct {
	Str string     // TString, TBytes
	Num int64      // TInt64, TUint64 (bits), TBool (0/1), TPort, TRelTime, TAbsTime; TIPNet literals: prefix length
	IP  netip.Addr // TIPAddr, TIPNet
}

// Prefix returns the network of a TIPNet literal made by [Field.ParseLiteral].
func (v Value) Prefix() netip.Prefix { return netip.PrefixFrom(v.IP, int(v.Num)) }

// Contains reports whether the TIPNet literal v contains the address ip.
// IPv4-mapped IPv6 addresses match IPv4 networks.
func (v Value) Contains(ip netip.Addr) bool {
	return v.Prefix().Contains(ip.Unmap())
}

func str(s string) Value   { return Value{Str: s} }
func num(n int64) Value    { return Value{Num: n} }
func unum(n uint64) Value  { return Value{Num: int64(n)} }
func boolean(b bool) Value { return Value{Num: b2i(b)} }
func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Errors returned by [Lookup] and [Field.ParseLiteral], wrapped with the
// field's name.
var (
	ErrUnknownField = errors.New("unknown field")
	ErrBadArg       = errors.New("bad field argument")
	ErrBadLiteral   = errors.New("bad literal")
)

// ErrFilterOnly is for callers that reject a [Field.FilterOnly] field in
// an output; this package does not return it.
var ErrFilterOnly = errors.New("field is usable in conditions only")

// ParseLiteral parses s, the right-hand side of a comparison, to f's type
// as Falco does (FIELDS.md section 9): numbers in decimal, booleans as
// true/false, ports also as service names ("https"), TIPNet fields as CIDR
// prefixes (IP in Value.IP, length in Value.Num). Errors wrap
// [ErrBadLiteral] and name the field and the text.
func (f *Field) ParseLiteral(s string) (Value, error) {
	bad := func(want string) (Value, error) {
		return Value{}, fmt.Errorf("field %s: %w %q: want %s", f.spelling, ErrBadLiteral, s, want)
	}
	switch f.Type {
	case TString, TBytes:
		return str(s), nil
	case TInt64, TRelTime, TAbsTime:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return bad("an integer")
		}
		return num(n), nil
	case TUint64:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return bad("an unsigned integer")
		}
		return unum(n), nil
	case TBool:
		switch s {
		case "true":
			return boolean(true), nil
		case "false":
			return boolean(false), nil
		}
		return bad("true or false")
	case TPort:
		t := strings.TrimSpace(s)
		if n, err := strconv.ParseUint(t, 10, 16); err == nil {
			return num(int64(n)), nil
		}
		if p, ok := servicePort(t); ok {
			return num(int64(p)), nil
		}
		return bad("a port number 0-65535 or a service name")
	case TIPAddr:
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return bad("an IP address")
		}
		return Value{IP: ip.Unmap()}, nil
	case TIPNet:
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return bad("a CIDR network such as 10.0.0.0/8")
		}
		p = p.Masked()
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return Value{IP: p.Addr(), Num: int64(p.Bits())}, nil
	}
	return bad("a value of type " + f.Type.String())
}

// wellKnownPorts backs service names when /etc/services is missing (as in
// minimal containers); net.LookupPort reads the file when it exists.
var wellKnownPorts = map[string]uint16{
	"ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "http": 80, "pop3": 110,
	"ntp": 123, "imap": 143, "snmp": 161, "ldap": 389, "https": 443, "smtps": 465,
	"submission": 587, "ldaps": 636, "imaps": 993, "pop3s": 995, "mysql": 3306,
	"postgresql": 5432, "redis": 6379, "http-alt": 8080,
}

func servicePort(name string) (int, bool) {
	if name == "" {
		return 0, false
	}
	if p, err := net.LookupPort("tcp", name); err == nil {
		return p, true
	}
	if p, ok := wellKnownPorts[name]; ok {
		return int(p), true
	}
	return 0, false
}

// Format returns the text Falco prints for v in an output.
func (f *Field) Format(v Value) string {
	switch f.Type {
	case TString:
		return v.Str
	case TBytes:
		return printable(v.Str)
	case TInt64, TRelTime, TAbsTime, TPort:
		return strconv.FormatInt(v.Num, 10)
	case TUint64:
		return strconv.FormatUint(uint64(v.Num), 10)
	case TBool:
		if v.Num != 0 {
			return "true"
		}
		return "false"
	case TIPAddr, TIPNet:
		if !v.IP.IsValid() {
			return NA
		}
		return v.IP.Unmap().String()
	}
	return v.Str
}

// JSON returns v as Falco puts it in an alert's output_fields: strings for
// text and addresses, numbers for numeric types, booleans for TBool.
func (f *Field) JSON(v Value) any {
	switch f.Type {
	case TString:
		return v.Str
	case TBytes:
		return printable(v.Str)
	case TInt64, TRelTime, TAbsTime:
		return v.Num
	case TPort:
		return uint16(v.Num)
	case TUint64:
		return uint64(v.Num)
	case TBool:
		return v.Num != 0
	case TIPAddr, TIPNet:
		return f.Format(v)
	}
	return v.Str
}

// printable replaces bytes outside printable ASCII with '.', as Falco does
// when it prints a byte buffer in an output.
func printable(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '.'
		}
	}
	return string(b)
}
