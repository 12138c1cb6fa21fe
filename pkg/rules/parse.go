package rules

import (
	"fmt"
	"strings"
)

// The condition grammar follows libsinsp's filter parser:
//
//	or    = and { "or" and }
//	and   = not { "and" not }
//	not   = { "not" blank } ( "not(" or ")" | check )
//	check = "(" or ")" | lhs op [rhs] | identifier
//	lhs   = field | transformer "(" lhs ")"
//	field = name [ "[" (quoted | bare) "]" ]
//
// with its lexical classes (identifier, field name, bare string, number)
// and its quirks: "and"/"or" need a blank or "(" after them, the string
// operators need a blank after them, and a list is "(" values ")" with
// plain values only.

// node is a parsed condition. at is the byte offset of the node in the
// condition text, for error positions.
type node interface{ offset() int }

type andNode struct {
	kids []node
	at   int
}

type orNode struct {
	kids []node
	at   int
}

type notNode struct {
	kid node
	at  int
}

// identNode is a bare identifier: a macro reference.
type identNode struct {
	name string
	at   int
}

// checkNode is one comparison.
type checkNode struct {
	lhs *fieldRef
	op  string
	rhs *rhsNode // nil for unary operators
	at  int
}

// fieldRef is a field with the transformers wrapped around it, outermost
// first; val is true for the val() form on a right-hand side.
type fieldRef struct {
	trans  []string
	name   string
	arg    string
	hasArg bool
	val    bool
	at     int // offset of the field name
	argAt  int
}

// rhsNode is the right-hand side of a binary check: a field, a single
// value, a parenthesised list, or an identifier after a list operator.
type rhsNode struct {
	field *fieldRef
	vals  []valueItem
	list  bool
	ident bool // "in name" without parentheses
	at    int
}

type valueItem struct {
	text   string
	quoted bool
	at     int
}

func (n *andNode) offset() int   { return n.at }
func (n *orNode) offset() int    { return n.at }
func (n *notNode) offset() int   { return n.at }
func (n *identNode) offset() int { return n.at }
func (n *checkNode) offset() int { return n.at }

// parseError is a syntax error at byte offset at of the condition.
type parseError struct {
	at   int
	msg  string
	item string
}

func (e *parseError) Error() string { return e.msg }

var (
	unaryOps = []string{"exists"}
	numOps   = []string{"<=", "<", ">=", ">"}
	// The trailing blanks are part of libsinsp's spelling: "glob(" is not
	// an operator.
	strOps = []string{"==", "=", "!=", "glob ", "iglob ", "contains ", "icontains ",
		"bcontains ", "startswith ", "bstartswith ", "endswith ", "regex "}
	listOps      = []string{"intersects", "in", "pmatch"}
	transformers = []string{"tolower(", "toupper(", "b64(", "basename(", "len("}
)

const maxParseDepth = 1000

type parser struct {
	in    string
	pos   int
	depth int
	last  string // last token, for "unexpected token after" messages
}

// parseCondition parses a whole condition.
func parseCondition(s string) (n node, err error) {
	if strings.TrimSpace(s) == "" {
		return nil, &parseError{at: 0, msg: "condition is empty"}
	}
	p := &parser{in: s}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*parseError)
			if !ok {
				panic(r)
			}
			n, err = nil, pe
		}
	}()
	n = p.parseOr()
	p.blank()
	if p.pos != len(p.in) {
		p.fail("unexpected token after '%s', expecting 'or', 'and'", p.last)
	}
	return n, nil
}

func (p *parser) fail(format string, args ...any) {
	end := p.pos
	for end < len(p.in) && !isBlank(p.in[end]) && end-p.pos < 40 {
		end++
	}
	panic(&parseError{at: p.pos, msg: fmt.Sprintf(format, args...), item: p.in[p.pos:end]})
}

func (p *parser) enter() {
	p.depth++
	if p.depth >= maxParseDepth {
		p.fail("exceeded max depth limit of %d", maxParseDepth)
	}
}

func (p *parser) leave() { p.depth-- }

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\b' || c == '\r' || c == '\n' }

func (p *parser) blank() bool {
	start := p.pos
	for p.pos < len(p.in) && isBlank(p.in[p.pos]) {
		p.pos++
	}
	return p.pos > start
}

// str consumes s if the input continues with it.
func (p *parser) str(s string) bool {
	if strings.HasPrefix(p.in[p.pos:], s) {
		p.pos += len(s)
		p.last = s
		return true
	}
	return false
}

func (p *parser) strList(list []string) (string, bool) {
	for _, s := range list {
		if p.str(s) {
			return s, true
		}
	}
	return "", false
}

func (p *parser) parseOr() node {
	p.enter()
	defer p.leave()
	p.blank()
	at := p.pos
	kids := []node{p.parseAnd()}
	p.blank()
	for p.keyword("or") {
		kids = append(kids, p.afterKeyword("or", p.parseAnd))
		p.blank()
	}
	if len(kids) == 1 {
		return kids[0]
	}
	return &orNode{kids: kids, at: at}
}

func (p *parser) parseAnd() node {
	p.enter()
	defer p.leave()
	p.blank()
	at := p.pos
	kids := []node{p.parseNot()}
	p.blank()
	for p.keyword("and") {
		kids = append(kids, p.afterKeyword("and", p.parseNot))
		p.blank()
	}
	if len(kids) == 1 {
		return kids[0]
	}
	return &andNode{kids: kids, at: at}
}

// keyword consumes "and"/"or"; like libsinsp it is a plain prefix match
// and what follows must then be a blank or "(".
func (p *parser) keyword(k string) bool { return p.str(k) }

func (p *parser) afterKeyword(k string, next func() node) node {
	if p.blank() {
		return next()
	}
	if p.str("(") {
		return p.embedded()
	}
	p.fail("expected blank or '(' after '%s'", k)
	return nil
}

func (p *parser) parseNot() node {
	p.enter()
	defer p.leave()
	p.blank()
	at := p.pos
	neg := false
	for p.notBlank() {
		neg = !neg
	}
	var kid node
	if p.str("not(") {
		neg = !neg
		kid = p.embedded()
	} else {
		kid = p.parseCheck()
	}
	if neg {
		return &notNode{kid: kid, at: at}
	}
	return kid
}

// notBlank consumes "not" followed by at least one blank.
func (p *parser) notBlank() bool {
	if !strings.HasPrefix(p.in[p.pos:], "not") || p.pos+3 >= len(p.in) || !isBlank(p.in[p.pos+3]) {
		return false
	}
	p.pos += 3
	p.blank()
	p.last = "not"
	return true
}

// embedded parses the rest of "(" expr ")".
func (p *parser) embedded() node {
	p.enter()
	defer p.leave()
	p.blank()
	n := p.parseOr()
	p.blank()
	if !p.str(")") {
		p.fail("expected a ')' token")
	}
	return n
}

func (p *parser) parseCheck() node {
	p.enter()
	defer p.leave()
	p.blank()
	at := p.pos
	if p.str("(") {
		return p.embedded()
	}
	if name, ok := p.fieldName(); ok {
		lhs := p.fieldRemainder(name, at)
		return p.condition(lhs, at)
	}
	if t, ok := p.strList(transformers); ok {
		lhs := p.transformerRemainder(t[:len(t)-1], at)
		return p.condition(lhs, at)
	}
	if id, ok := p.identifier(); ok {
		return &identNode{name: id, at: at}
	}
	p.fail("expected a '(' token, a field check, or an identifier")
	return nil
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isIdent(c byte) bool { return isAlpha(c) || isDigit(c) || c == '_' }

// identSegment scans [a-zA-Z]+[a-zA-Z0-9_]* from i and returns its end,
// or i when there is none.
func (p *parser) identSegment(i int) int {
	if i >= len(p.in) || !isAlpha(p.in[i]) {
		return i
	}
	for i < len(p.in) && isIdent(p.in[i]) {
		i++
	}
	return i
}

func (p *parser) identifier() (string, bool) {
	end := p.identSegment(p.pos)
	if end == p.pos {
		return "", false
	}
	s := p.in[p.pos:end]
	p.pos = end
	p.last = s
	return s, true
}

// fieldName scans segment ("." segment)+.
func (p *parser) fieldName() (string, bool) {
	end := p.identSegment(p.pos)
	if end == p.pos {
		return "", false
	}
	dots := 0
	for end < len(p.in) && p.in[end] == '.' {
		next := p.identSegment(end + 1)
		if next == end+1 {
			break
		}
		end = next
		dots++
	}
	if dots == 0 {
		return "", false
	}
	s := p.in[p.pos:end]
	p.pos = end
	p.last = s
	return s, true
}

func (p *parser) fieldRemainder(name string, at int) *fieldRef {
	f := &fieldRef{name: name, at: at}
	if p.str("[") {
		f.argAt = p.pos
		if s, ok := p.quoted(); ok {
			f.arg = s
		} else if s, ok := p.argBare(); ok {
			f.arg = s
		} else {
			p.fail("expected a valid field argument: a quoted string or a bare string")
		}
		f.hasArg = true
		if !p.str("]") {
			p.fail("expected a ']' token")
		}
	}
	return f
}

// transformerRemainder parses the inside of transformer "(" ... ")".
func (p *parser) transformerRemainder(t string, at int) *fieldRef {
	p.enter()
	defer p.leave()
	p.blank()
	argAt := p.pos
	var inner *fieldRef
	if t2, ok := p.strList(transformers); ok {
		inner = p.transformerRemainder(t2[:len(t2)-1], argAt)
	} else if name, ok := p.fieldName(); ok {
		inner = p.fieldRemainder(name, argAt)
	}
	if inner == nil {
		p.fail("expected a field or a nested valid transformer: 'val', 'tolower', 'toupper', 'b64', 'basename', 'len'")
	}
	p.blank()
	if !p.str(")") {
		p.fail("expected a ')' token closing the transformer")
	}
	inner.trans = append([]string{t}, inner.trans...)
	inner.at = at
	return inner
}

func (p *parser) condition(lhs *fieldRef, at int) node {
	p.enter()
	defer p.leave()
	p.blank()
	if op, ok := p.strList(unaryOps); ok {
		return &checkNode{lhs: lhs, op: op, at: at}
	}
	p.blank()
	var rhs *rhsNode
	var op string
	if o, ok := p.strList(numOps); ok {
		op = o
		rhs = p.numValue()
	} else if o, ok := p.strList(strOps); ok {
		op = strings.TrimSpace(o)
		rhs = p.strValue()
	} else if o, ok := p.strList(listOps); ok {
		op = o
		rhs = p.listValue()
	} else {
		p.fail("expected a valid check operator: one of 'exists', '<=', '<', '>=', '>', '==', '=', '!=', " +
			"'glob', 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', " +
			"'regex', 'intersects', 'in', 'pmatch'")
	}
	return &checkNode{lhs: lhs, op: op, rhs: rhs, at: at}
}

func (p *parser) transformerOrVal() *rhsNode {
	p.blank()
	at := p.pos
	if p.str("val(") {
		p.blank()
		fat := p.pos
		name, ok := p.fieldName()
		if !ok {
			p.fail("expected a field within 'val' transformer")
		}
		f := p.fieldRemainder(name, fat)
		p.blank()
		if !p.str(")") {
			p.fail("expected a ')' token closing the transformer")
		}
		f.val = true
		return &rhsNode{field: f, at: at}
	}
	if t, ok := p.strList(transformers); ok {
		return &rhsNode{field: p.transformerRemainder(t[:len(t)-1], at), at: at}
	}
	return nil
}

func (p *parser) numValue() *rhsNode {
	p.blank()
	at := p.pos
	if r := p.transformerOrVal(); r != nil {
		return r
	}
	if s, ok := p.number(); ok {
		return &rhsNode{vals: []valueItem{{text: s, at: at}}, at: at}
	}
	p.fail("expected a number value or a field with a valid transformer")
	return nil
}

func (p *parser) strValue() *rhsNode {
	p.blank()
	at := p.pos
	if r := p.transformerOrVal(); r != nil {
		return r
	}
	if v, ok := p.plainValue(); ok {
		return &rhsNode{vals: []valueItem{v}, at: at}
	}
	p.fail("expected a string value or a field with a valid transformer")
	return nil
}

func (p *parser) plainValue() (valueItem, bool) {
	at := p.pos
	if s, ok := p.quoted(); ok {
		return valueItem{text: s, quoted: true, at: at}, true
	}
	if s, ok := p.bare(); ok {
		return valueItem{text: s, at: at}, true
	}
	return valueItem{}, false
}

func (p *parser) listValue() *rhsNode {
	p.blank()
	at := p.pos
	if p.str("(") {
		r := &rhsNode{list: true, at: at}
		p.blank()
		if v, ok := p.plainValue(); ok {
			r.vals = append(r.vals, v)
			p.blank()
			for p.str(",") {
				p.blank()
				v, ok := p.plainValue()
				if !ok {
					p.fail("expected a string value")
				}
				r.vals = append(r.vals, v)
				p.blank()
			}
		}
		if !p.str(")") {
			p.fail("expected a ')' token")
		}
		return r
	}
	if r := p.transformerOrVal(); r != nil {
		return r
	}
	if id, ok := p.identifier(); ok {
		return &rhsNode{vals: []valueItem{{text: id, at: at}}, ident: true, at: at}
	}
	p.fail("expected a list, an identifier, or a field with a valid transformer")
	return nil
}

// quoted scans a '...' or "..." string with backslash escapes.
func (p *parser) quoted() (string, bool) {
	s, n, ok := lexQuoted(p.in[p.pos:])
	if !ok {
		return "", false
	}
	p.last = p.in[p.pos : p.pos+n]
	p.pos += n
	return s, true
}

// lexQuoted reads a quoted string at the start of s and returns its
// unescaped content and the length consumed.
func lexQuoted(s string) (string, int, bool) {
	if s == "" || (s[0] != '"' && s[0] != '\'') {
		return "", 0, false
	}
	delim := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == delim {
			return b.String(), i + 1, true
		}
		if c == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '\\', '"', '\'', '/':
				b.WriteByte(s[i])
			default:
				b.WriteByte('\\')
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(c)
	}
	return "", 0, false
}

// bare scans [^()"'[:space:]=,]+.
func (p *parser) bare() (string, bool) {
	i := p.pos
	for i < len(p.in) {
		c := p.in[i]
		if c == '(' || c == ')' || c == '"' || c == '\'' || c == '=' || c == ',' || isSpace(c) {
			break
		}
		i++
	}
	if i == p.pos {
		return "", false
	}
	s := p.in[p.pos:i]
	p.pos = i
	p.last = s
	return s, true
}

// argBare scans a field argument: [^][\"'[:space:]]+.
func (p *parser) argBare() (string, bool) {
	i := p.pos
	for i < len(p.in) {
		c := p.in[i]
		if c == '[' || c == ']' || c == '"' || c == '\'' || isSpace(c) {
			break
		}
		i++
	}
	if i == p.pos {
		return "", false
	}
	s := p.in[p.pos:i]
	p.pos = i
	return s, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// number scans a hex number or [+-]?[0-9]+\.?[0-9]*([eE][+-][0-9]+)?.
func (p *parser) number() (string, bool) {
	s := p.in[p.pos:]
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isIdent(s[2]) && s[2] != '_' {
		i := 2
		for i < len(s) && (isAlpha(s[i]) || isDigit(s[i])) {
			i++
		}
		p.pos += i
		p.last = s[:i]
		return s[:i], true
	}
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	d := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == d {
		return "", false
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i+2 < len(s)+0 && (s[i] == 'e' || s[i] == 'E') && (s[i+1] == '+' || s[i+1] == '-') && isDigit(s[i+2]) {
		i += 2
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	p.pos += i
	p.last = s[:i]
	return s[:i], true
}
