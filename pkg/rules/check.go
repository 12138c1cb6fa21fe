package rules

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// operand is a field with its transformers, ready to extract.
type operand struct {
	f     *fields.Field
	typ   fields.Type // after transformers
	trans []string
	// memo extracts the value through the per-event memo; nil for Multi
	// fields, which are compared value by value through Field.Match.
	memo *fieldMemo
}

// fieldMemo is an operand's slot in the per-event memo. Every check
// that reads the same field with the same transformers shares the slot:
// upstream rules test fd.name, proc.name or proc.pname in many places
// and an event runs through many rules, so each value is extracted once
// per event. Extraction is a pure function of the event, so the memo
// gives the value a new extraction would.
type fieldMemo struct {
	slot int
	// event is the field's own extractor for events that are not Flat;
	// nil when transformers apply.
	event func(c *fields.Ctx) (fields.Value, bool)
	get   func(c *fields.Ctx) (fields.Value, bool) // Extract and the transformers
}

// fieldSlot is one memoised value, valid while gen is the state's gen.
type fieldSlot struct {
	gen uint32
	ok  bool
	v   fields.Value
}

// value returns the memoised value of m for the current event. It is
// small enough to be inlined into every check.
func (m *fieldMemo) value(s *evalState) *fieldSlot {
	sl := &s.fields[m.slot]
	if sl.gen != s.gen {
		m.fill(s, sl)
	}
	return sl
}

func (m *fieldMemo) fill(s *evalState, sl *fieldSlot) {
	if m.event != nil && s.c.Flat == nil {
		sl.v, sl.ok = m.event(s.c)
	} else {
		sl.v, sl.ok = m.get(s.c)
	}
	sl.gen = s.gen
}

// memoFor returns the memo of the operand spelled key.
func (cp *compiler) memoFor(key string, event, get func(c *fields.Ctx) (fields.Value, bool)) *fieldMemo {
	if m, ok := cp.fieldMemos[key]; ok {
		return m
	}
	m := &fieldMemo{slot: len(cp.fieldMemos), event: event, get: get}
	cp.fieldMemos[key] = m
	return m
}

func (cp *compiler) operand(fr *fieldRef, sc scope) (*operand, bool) {
	f, err := fields.Lookup(fr.name, fr.arg, fr.hasArg)
	if err != nil {
		at := fr.at
		if errors.Is(err, fields.ErrBadArg) && fr.hasArg {
			at = fr.argAt
		}
		item := fr.name
		if fr.hasArg {
			item += "[" + fr.arg + "]"
		}
		if cp.skipUnknown && errors.Is(err, fields.ErrUnknownField) {
			cp.skipped = true
			cp.warnings = append(cp.warnings, sc.cond.issueAt(at, sc.what+": "+err.Error()+"; rule skipped (skip-if-unknown-filter)", item))
			return nil, false
		}
		cp.issues = append(cp.issues, sc.cond.issueAt(at, sc.what+": "+err.Error(), item))
		return nil, false
	}
	get, typ, err := transformed(f, fr.trans)
	if err != nil {
		cp.issues = append(cp.issues, sc.cond.issueAt(fr.at, sc.what+": "+err.Error(), f.String()))
		return nil, false
	}
	o := &operand{f: f, typ: typ, trans: fr.trans}
	if len(o.trans) == 0 {
		o.trans = nil
	}
	if !f.Multi() {
		var event func(c *fields.Ctx) (fields.Value, bool)
		if len(o.trans) == 0 {
			event = f.EventExtractor()
		}
		o.memo = cp.memoFor(strings.Join(append([]string{f.String()}, o.trans...), "|"), event, get)
	}
	return o, true
}

// transformed returns the extractor of f with trans applied (outermost
// first, as written) and the type of its result. Transformers apply to
// single-valued string fields only, as libsinsp's check them at compile
// time; the error names the transformer and the field.
func transformed(f *fields.Field, trans []string) (func(c *fields.Ctx) (fields.Value, bool), fields.Type, error) {
	get, typ := f.Extract, f.Type
	// Transformers apply innermost first; trans is outermost first.
	for i := len(trans) - 1; i >= 0; i-- {
		t := trans[i]
		if f.Multi() {
			return nil, 0, fmt.Errorf("transformer %s cannot be applied to multi-valued field %s", t, f)
		}
		if typ != fields.TString && typ != fields.TBytes {
			return nil, 0, fmt.Errorf("transformer %s does not support field %s of type %s", t, f, typ)
		}
		inner := get
		switch t {
		case "tolower":
			get = func(c *fields.Ctx) (fields.Value, bool) {
				v, ok := inner(c)
				v.Str = strings.ToLower(v.Str)
				return v, ok
			}
		case "toupper":
			get = func(c *fields.Ctx) (fields.Value, bool) {
				v, ok := inner(c)
				v.Str = strings.ToUpper(v.Str)
				return v, ok
			}
		case "basename":
			get = func(c *fields.Ctx) (fields.Value, bool) {
				v, ok := inner(c)
				v.Str = baseName(v.Str)
				return v, ok
			}
		case "b64":
			// Falco's b64 decodes; undecodable input yields no value.
			get = func(c *fields.Ctx) (fields.Value, bool) {
				v, ok := inner(c)
				if !ok {
					return v, false
				}
				b, err := base64.StdEncoding.DecodeString(v.Str)
				if err != nil {
					return fields.Value{}, false
				}
				return fields.Value{Str: string(b)}, true
			}
		case "len":
			get = func(c *fields.Ctx) (fields.Value, bool) {
				v, ok := inner(c)
				return fields.Value{Num: int64(len(v.Str))}, ok
			}
			typ = fields.TUint64
		}
	}
	return get, typ, nil
}

// baseName is the text after the last '/', "" for a path ending in '/'.
func baseName(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// opTypes says which field types accept each operator, after libsinsp's
// flt_is_comparable.
func opAllowed(op string, t fields.Type) bool {
	str := t == fields.TString || t == fields.TBytes
	switch op {
	case "exists", "=", "==", "!=", "in", "intersects":
		return true
	case "<", "<=", ">", ">=":
		return t.Numeric() && t != fields.TBool || t == fields.TString
	case "contains", "icontains", "startswith", "endswith", "bcontains", "bstartswith":
		return str
	case "glob", "iglob", "regex", "pmatch":
		return t == fields.TString
	}
	return false
}

func (cp *compiler) check(n *checkNode, sc scope) cexpr {
	lhs, ok := cp.operand(n.lhs, sc)
	if !ok {
		return constFalse
	}
	f := lhs.f
	fail := func(at int, item, format string, args ...any) cexpr {
		cp.issues = append(cp.issues, sc.cond.issueAt(at, sc.what+": "+fmt.Sprintf(format, args...), item))
		return constFalse
	}
	if !opAllowed(n.op, lhs.typ) {
		return fail(n.at, n.op, "operator '%s' is not supported by field %s of type %s", n.op, f, lhs.typ)
	}
	if n.op == "exists" {
		if len(lhs.trans) == 0 {
			return cexpr{p: func(c *evalState) bool { return f.Exists(c.c) }, types: allTypes(), neg: allTypes()}
		}
		m := lhs.memo
		return cexpr{p: func(c *evalState) bool { return m.value(c).ok }, types: allTypes(), neg: allTypes()}
	}
	if n.rhs.field != nil {
		return cp.fieldCompare(n, lhs, sc)
	}
	// Literal values, with list names expanded.
	var vals []valueItem
	for _, v := range n.rhs.vals {
		if items, ok := cp.lists[v.text]; ok && !v.quoted {
			cp.usedLists[v.text] = true
			for _, it := range items {
				vals = append(vals, listItemValue(it, v.at))
			}
			continue
		}
		vals = append(vals, v)
	}
	multiVal := n.rhs.list || n.rhs.ident || isListOp(n.op)
	if !multiVal && len(vals) != 1 {
		return fail(n.rhs.at, n.rhs.vals[0].text, "operator '%s' takes one value, got %d", n.op, len(vals))
	}
	lits := make([]fields.Value, 0, len(vals))
	for _, v := range vals {
		lit, err := parseLiteral(lhs, n.op, v.text)
		if err != nil {
			return fail(v.at, v.text, "%v", err)
		}
		lits = append(lits, lit)
	}
	// Static pruning, as libsinsp does for evt.num.
	if f.Name == "evt.num" && len(lhs.trans) == 0 && len(lits) == 1 && lits[0].Num == 0 {
		switch n.op {
		case "=", "==", "<":
			return constFalse
		case ">=":
			return constTrue
		}
	}
	m, err := matcher(n.op, lhs.typ, lits, vals)
	if err != nil {
		return fail(n.rhs.at, n.rhs.vals[0].text, "%v", err)
	}
	ce := cexpr{types: allTypes(), neg: allTypes()}
	if f.Name == "evt.type" && len(lhs.trans) == 0 && cp.evtType >= 0 {
		// Specialising for one type: the check is a constant.
		if m(fields.Value{Str: schema.EventType(cp.evtType).String()}) {
			return constTrue
		}
		return constFalse
	}
	if f.Name == "evt.type" && len(lhs.trans) == 0 {
		var set evtSet
		for _, l := range lits {
			if t, ok := schema.EventTypeByName(l.Str); ok {
				set = set.or(typeSet(t))
			}
		}
		switch n.op {
		case "=", "==", "in", "intersects":
			ce.types, ce.neg = set, set.not()
		case "!=":
			ce.types, ce.neg = set.not(), set
		}
	}
	ce.p = bindMatcher(lhs, n.op, m, lits, vals)
	return ce
}

// listItemValue turns a list item into a value as Falco's textual list
// substitution would: an item written with quotes is a quoted string.
func listItemValue(it string, at int) valueItem {
	if s, n, ok := lexQuoted(it); ok && n == len(it) {
		return valueItem{text: s, quoted: true, at: at}
	}
	return valueItem{text: it, at: at}
}

func parseLiteral(o *operand, op, s string) (fields.Value, error) {
	switch op {
	case "bcontains", "bstartswith":
		b, err := hex.DecodeString(s)
		if err != nil {
			return fields.Value{}, fmt.Errorf("field %s: operator %s needs a hex string, got %q", o.f, op, s)
		}
		return fields.Value{Str: string(b)}, nil
	}
	if len(o.trans) > 0 {
		if o.typ == fields.TUint64 {
			n, err := strconv.ParseUint(s, 0, 64)
			if err != nil {
				return fields.Value{}, fmt.Errorf("field %s: %w %q: want an unsigned integer", o.f, fields.ErrBadLiteral, s)
			}
			return fields.Value{Num: int64(n)}, nil
		}
		return fields.Value{Str: s}, nil
	}
	return o.f.ParseLiteral(s)
}

// bindMatcher turns a value matcher into a predicate over the event.
func bindMatcher(o *operand, op string, m func(fields.Value) bool, lits []fields.Value, vals []valueItem) pred {
	f := o.f
	if !f.Multi() {
		if p := fusedString(o, op, lits); p != nil {
			return p
		}
		if p := fusedNum(o, op, lits); p != nil {
			return p
		}
		mf := o.memo
		if o.typ == fields.TString || o.typ == fields.TBytes {
			// Hand the matcher the string, not a copy of the Value.
			if sm, err := strMatcher(op, lits); err == nil {
				return func(c *evalState) bool {
					sl := mf.value(c)
					return sl.ok && sm(sl.v.Str)
				}
			}
		}
		return func(c *evalState) bool {
			sl := mf.value(c)
			return sl.ok && m(sl.v)
		}
	}
	if op == "!=" {
		// "!=" on several values: some value exists and none is equal.
		eq, _ := matcher("=", o.typ, lits, vals)
		return func(c *evalState) bool {
			any, hit := c.each(f, eq)
			return any && !hit
		}
	}
	return func(c *evalState) bool {
		_, hit := c.each(f, m)
		return hit
	}
}

// fusedNum inlines the comparisons of a number with one literal.
func fusedNum(o *operand, op string, lits []fields.Value) pred {
	if !o.typ.Numeric() || len(lits) != 1 {
		return nil
	}
	mf, n := o.memo, lits[0].Num
	switch op {
	case "=", "==", "in", "intersects":
		return func(c *evalState) bool { sl := mf.value(c); return sl.ok && sl.v.Num == n }
	case "!=":
		return func(c *evalState) bool { sl := mf.value(c); return sl.ok && sl.v.Num != n }
	}
	if o.typ.Unsigned() {
		return nil
	}
	switch op {
	case "<":
		return func(c *evalState) bool { sl := mf.value(c); return sl.ok && sl.v.Num < n }
	case "<=":
		return func(c *evalState) bool { sl := mf.value(c); return sl.ok && sl.v.Num <= n }
	case ">":
		return func(c *evalState) bool { sl := mf.value(c); return sl.ok && sl.v.Num > n }
	case ">=":
		return func(c *evalState) bool { sl := mf.value(c); return sl.ok && sl.v.Num >= n }
	}
	return nil
}

// fusedString inlines the most common string comparisons of the
// upstream rules into the predicate, saving a call per check on the hot
// path; it returns nil for the others, which go through the matcher.
func fusedString(o *operand, op string, lits []fields.Value) pred {
	if o.typ != fields.TString || len(lits) != 1 {
		return nil
	}
	mf, s := o.memo, lits[0].Str
	switch op {
	case "=", "==", "in", "intersects":
		return func(c *evalState) bool { sl := mf.value(c); return sl.ok && sl.v.Str == s }
	case "!=":
		return func(c *evalState) bool { sl := mf.value(c); return sl.ok && sl.v.Str != s }
	case "startswith":
		return func(c *evalState) bool { sl := mf.value(c); return sl.ok && strings.HasPrefix(sl.v.Str, s) }
	case "endswith":
		return func(c *evalState) bool { sl := mf.value(c); return sl.ok && strings.HasSuffix(sl.v.Str, s) }
	case "contains":
		return func(c *evalState) bool { sl := mf.value(c); return sl.ok && strings.Contains(sl.v.Str, s) }
	}
	return nil
}

// each runs m over the values of a multi-valued field until one
// matches. The callback is bound to the state once, so iterating does
// not allocate.
func (s *evalState) each(f *fields.Field, m func(fields.Value) bool) (any, hit bool) {
	s.iterM, s.iterAny, s.iterHit = m, false, false
	f.ExtractAll(s.c, s.iterFn)
	s.iterM = nil
	return s.iterAny, s.iterHit
}

func (s *evalState) visit(v fields.Value) bool {
	s.iterAny = true
	s.iterHit = s.iterM(v)
	return !s.iterHit
}

func (cp *compiler) fieldCompare(n *checkNode, lhs *operand, sc scope) cexpr {
	rhs, ok := cp.operand(n.rhs.field, sc)
	if !ok {
		return constFalse
	}
	if lhs.typ != rhs.typ || lhs.f.Multi() || rhs.f.Multi() {
		cp.issues = append(cp.issues, sc.cond.issueAt(n.rhs.at, fmt.Sprintf("%s: field %s has type %s while the right-hand side field %s has incompatible type %s",
			sc.what, lhs.f, lhs.typ, rhs.f, rhs.typ), rhs.f.String()))
		return constFalse
	}
	switch n.op {
	case "bcontains", "bstartswith", "regex", "glob", "iglob", "pmatch":
		cp.issues = append(cp.issues, sc.cond.issueAt(n.at, fmt.Sprintf("%s: operator '%s' does not accept a field on its right-hand side", sc.what, n.op), n.op))
		return constFalse
	}
	lm, rm, typ, op := lhs.memo, rhs.memo, lhs.typ, n.op
	return cexpr{p: func(c *evalState) bool {
		a := lm.value(c)
		if !a.ok {
			return false
		}
		b := rm.value(c)
		if !b.ok {
			return false
		}
		return compareDynamic(op, typ, a.v, b.v)
	}, types: allTypes(), neg: allTypes()}
}

// compareDynamic compares two extracted values; it backs val() checks,
// which are rare, so it may branch on the operator per event.
func compareDynamic(op string, t fields.Type, a, b fields.Value) bool {
	if t == fields.TString || t == fields.TBytes {
		switch op {
		case "=", "==", "in", "intersects":
			return a.Str == b.Str
		case "!=":
			return a.Str != b.Str
		case "<":
			return a.Str < b.Str
		case "<=":
			return a.Str <= b.Str
		case ">":
			return a.Str > b.Str
		case ">=":
			return a.Str >= b.Str
		case "contains":
			return strings.Contains(a.Str, b.Str)
		case "icontains":
			return containsFold(a.Str, b.Str)
		case "startswith":
			return strings.HasPrefix(a.Str, b.Str)
		case "endswith":
			return strings.HasSuffix(a.Str, b.Str)
		}
		return false
	}
	if t == fields.TIPAddr || t == fields.TIPNet {
		eq := a.IP.Unmap() == b.IP.Unmap()
		if op == "!=" {
			return !eq
		}
		return eq && (op == "=" || op == "==" || op == "in" || op == "intersects")
	}
	c := cmpNum(t, a.Num, b.Num)
	switch op {
	case "=", "==", "in", "intersects":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

func cmpNum(t fields.Type, a, b int64) int {
	if t.Unsigned() {
		ua, ub := uint64(a), uint64(b)
		switch {
		case ua < ub:
			return -1
		case ua > ub:
			return 1
		}
		return 0
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// matcher builds the comparison of an extracted value against literals,
// specialised per operator and type so that nothing is decided per event.
func matcher(op string, t fields.Type, lits []fields.Value, vals []valueItem) (func(fields.Value) bool, error) {
	switch t {
	case fields.TString, fields.TBytes:
		return stringMatcher(op, lits)
	case fields.TIPAddr:
		return addrMatcher(op, lits), nil
	case fields.TIPNet:
		return netMatcher(op, lits), nil
	}
	return numMatcher(op, t, lits), nil
}

func stringMatcher(op string, lits []fields.Value) (func(fields.Value) bool, error) {
	m, err := strMatcher(op, lits)
	if err != nil {
		return nil, err
	}
	return func(v fields.Value) bool { return m(v.Str) }, nil
}

// strMatcher is stringMatcher on the bare string, for the single-valued
// checks that pass the memoised string instead of copying a Value.
func strMatcher(op string, lits []fields.Value) (func(string) bool, error) {
	if len(lits) == 0 {
		// "in ()" is false for every value.
		return func(string) bool { return false }, nil
	}
	s := lits[0].Str
	switch op {
	case "=", "==":
		return func(v string) bool { return v == s }, nil
	case "!=":
		return func(v string) bool { return v != s }, nil
	case "<":
		return func(v string) bool { return v < s }, nil
	case "<=":
		return func(v string) bool { return v <= s }, nil
	case ">":
		return func(v string) bool { return v > s }, nil
	case ">=":
		return func(v string) bool { return v >= s }, nil
	case "contains", "bcontains":
		return func(v string) bool { return strings.Contains(v, s) }, nil
	case "icontains":
		return func(v string) bool { return containsFold(v, s) }, nil
	case "startswith", "bstartswith":
		return func(v string) bool { return strings.HasPrefix(v, s) }, nil
	case "endswith":
		return func(v string) bool { return strings.HasSuffix(v, s) }, nil
	case "glob":
		g := compileGlob(s, false)
		return func(v string) bool { return g.match(v) }, nil
	case "iglob":
		g := compileGlob(s, true)
		return func(v string) bool { return g.match(v) }, nil
	case "regex":
		re, err := regexp.Compile(`^(?:` + s + `)$`)
		if err != nil {
			return nil, fmt.Errorf("invalid regular expression %q: %v", s, err)
		}
		return func(v string) bool { return re.MatchString(v) }, nil
	case "in", "intersects":
		return stringSet(lits), nil
	case "pmatch":
		pm := newPathMatcher(lits)
		return func(v string) bool { return pm.match(v) }, nil
	}
	return nil, fmt.Errorf("operator '%s' is not supported on strings", op)
}

// stringSet is membership: a strSet past a few items, a scan below.
func stringSet(lits []fields.Value) func(string) bool {
	if len(lits) <= 6 {
		ss := make([]string, len(lits))
		for i, l := range lits {
			ss[i] = l.Str
		}
		return func(v string) bool {
			for _, s := range ss {
				if v == s {
					return true
				}
			}
			return false
		}
	}
	items := make([]string, len(lits))
	for i, l := range lits {
		items[i] = l.Str
	}
	return newStrSet(items).has
}

func numMatcher(op string, t fields.Type, lits []fields.Value) func(fields.Value) bool {
	if len(lits) == 0 {
		return func(fields.Value) bool { return false }
	}
	n := lits[0].Num
	switch op {
	case "=", "==":
		return func(v fields.Value) bool { return v.Num == n }
	case "!=":
		return func(v fields.Value) bool { return v.Num != n }
	case "<":
		return func(v fields.Value) bool { return cmpNum(t, v.Num, n) < 0 }
	case "<=":
		return func(v fields.Value) bool { return cmpNum(t, v.Num, n) <= 0 }
	case ">":
		return func(v fields.Value) bool { return cmpNum(t, v.Num, n) > 0 }
	case ">=":
		return func(v fields.Value) bool { return cmpNum(t, v.Num, n) >= 0 }
	}
	ns := make([]int64, len(lits))
	for i, l := range lits {
		ns[i] = l.Num
	}
	return func(v fields.Value) bool {
		for _, x := range ns {
			if v.Num == x {
				return true
			}
		}
		return false
	}
}

func addrMatcher(op string, lits []fields.Value) func(fields.Value) bool {
	in := func(v fields.Value) bool {
		ip := v.IP.Unmap()
		for _, l := range lits {
			if l.IP.Unmap() == ip {
				return true
			}
		}
		return false
	}
	if op == "!=" {
		return func(v fields.Value) bool { return !in(v) }
	}
	return in
}

func netMatcher(op string, lits []fields.Value) func(fields.Value) bool {
	in := func(v fields.Value) bool {
		for _, l := range lits {
			if l.Contains(v.IP) {
				return true
			}
		}
		return false
	}
	if op == "!=" {
		return func(v fields.Value) bool { return !in(v) }
	}
	return in
}

// containsFold is an ASCII case-insensitive substring test that does not
// allocate.
func containsFold(s, sub string) bool {
	if len(sub) == 0 {
		return true
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			if lower(s[i+j]) != lower(sub[j]) {
				break
			}
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// glob is fnmatch(3) without FNM_PATHNAME: '*' also matches '/'.
type glob struct {
	pat  string
	fold bool
}

func compileGlob(p string, fold bool) glob {
	if fold {
		p = strings.ToLower(p)
	}
	return glob{pat: p, fold: fold}
}

func (g glob) match(s string) bool { return globMatch(g.pat, s, g.fold) }

// globMatch matches with backtracking over the last '*' only, which is
// linear enough for rule patterns.
func globMatch(p, s string, fold bool) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch p[pi] {
			case '*':
				starP, starS = pi, si
				pi++
				continue
			case '?':
				pi++
				si++
				continue
			case '[':
				if ok, next, valid := matchClass(p, pi, s[si], fold); valid {
					if ok {
						pi, si = next, si+1
						continue
					}
				} else if s[si] == '[' {
					pi++
					si++
					continue
				}
			case '\\':
				if pi+1 < len(p) && eqByte(p[pi+1], s[si], fold) {
					pi += 2
					si++
					continue
				}
			default:
				if eqByte(p[pi], s[si], fold) {
					pi++
					si++
					continue
				}
			}
		}
		if starP >= 0 {
			pi = starP + 1
			starS++
			si = starS
			continue
		}
		return false
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

func eqByte(p, c byte, fold bool) bool {
	if fold {
		return p == lower(c)
	}
	return p == c
}

// matchClass matches c against the bracket expression at p[i]. valid is
// false when the bracket is not closed (then '[' is literal).
func matchClass(p string, i int, c byte, fold bool) (ok bool, next int, valid bool) {
	if fold {
		c = lower(c)
	}
	j := i + 1
	neg := false
	if j < len(p) && (p[j] == '!' || p[j] == '^') {
		neg = true
		j++
	}
	first := true
	for j < len(p) && (first || p[j] != ']') {
		first = false
		lo := p[j]
		hi := lo
		if j+2 < len(p) && p[j+1] == '-' && p[j+2] != ']' {
			hi = p[j+2]
			j += 3
		} else {
			j++
		}
		if lo <= c && c <= hi {
			ok = true
		}
	}
	if j >= len(p) {
		return false, 0, false
	}
	return ok != neg, j + 1, true
}

// pathMatcher is pmatch: each pattern matches a path equal to it or below
// it, comparing '/'-separated components (empty ones ignored); pattern
// components may hold glob characters.
type pathMatcher struct {
	pats [][]string
}

func newPathMatcher(lits []fields.Value) *pathMatcher {
	pm := &pathMatcher{}
	for _, l := range lits {
		pm.pats = append(pm.pats, splitPath(l.Str))
	}
	return pm
}

func splitPath(s string) []string {
	var out []string
	for _, c := range strings.Split(s, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

func (pm *pathMatcher) match(s string) bool {
	for _, pat := range pm.pats {
		if matchPathPrefix(pat, s) {
			return true
		}
	}
	return false
}

// matchPathPrefix walks s's components without allocating.
func matchPathPrefix(pat []string, s string) bool {
	k := 0
	i := 0
	for k < len(pat) {
		for i < len(s) && s[i] == '/' {
			i++
		}
		if i >= len(s) {
			return false
		}
		j := i
		for j < len(s) && s[j] != '/' {
			j++
		}
		comp := s[i:j]
		if strings.ContainsAny(pat[k], "*?[") {
			if ok, _ := path.Match(pat[k], comp); !ok {
				return false
			}
		} else if pat[k] != comp {
			return false
		}
		k++
		i = j
	}
	return len(pat) > 0
}
